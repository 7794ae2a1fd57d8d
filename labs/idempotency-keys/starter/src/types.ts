/**
 * The contract between your endpoint and the world around it: the request it receives,
 * the response it returns, and what it is handed to do its work (the database, the
 * payment provider, a clock).
 *
 * The visible tests and the grader both call `createPayment(request, deps)` from
 * src/payments.ts with these types. You do not need to change this file.
 */
import type { Db } from './db';

/** How long a key is locked by the request working on it before another request may take it over. */
export const LOCK_TIMEOUT_MS = 90_000;

/** How long a key is remembered. An older key counts as never used: its request runs anew. */
export const KEY_TTL_MS = 24 * 60 * 60 * 1000;

/** The longest idempotency key accepted (Stripe's limit). Keys are 1 to 255 characters. */
export const MAX_KEY_LENGTH = 255;

/** The currencies this shop takes. */
export const CURRENCIES = ['eur', 'usd', 'gbp'] as const;
export type Currency = (typeof CURRENCIES)[number];

/** `POST /payments`, as it reaches your code once the web framework has parsed it. */
export interface PaymentRequest {
  /** The signed-in user making the request (from their session, never from the body). */
  readonly userId: string;
  /** The `Idempotency-Key` header exactly as the client sent it; undefined when it is missing. */
  readonly idempotencyKey: string | undefined;
  /** The JSON body, parsed. It can be anything at all: check it before trusting it. */
  readonly body: unknown;
}

/**
 * The body of a valid request. `amount` is a whole number of cents, at least 1;
 * `card` is the card token the client got from the payment provider's form;
 * `description` is optional free text.
 */
export interface PaymentParams {
  readonly amount: number;
  readonly currency: Currency;
  readonly card: string;
  readonly description?: string;
}

/** What your endpoint answers. */
export interface ApiResponse {
  /** The HTTP status code. */
  readonly status: number;
  /**
   * Extra response headers, lower-case names. A response replayed from storage carries
   * `'idempotent-replayed': 'true'`; a response computed now does not.
   */
  readonly headers: Readonly<Record<string, string>>;
  /** The body exactly as sent over the wire: JSON text. A replay sends the very same text. */
  readonly body: string;
}

/**
 * The body of a successful payment (status 201), as JSON:
 * `{"id": "pay_12", "amount": 1200, "currency": "eur", "description": null, "status": "succeeded", "charge": "ch_..."}`
 * `id` is your own payment's id (from your payments table); `charge` is the provider's charge id.
 */
export interface PaymentBody {
  readonly id: string;
  readonly amount: number;
  readonly currency: Currency;
  readonly description: string | null;
  readonly status: 'succeeded';
  readonly charge: string;
}

/** The body of every error response: `{"error": {"type": "...", "message": "..."}}`. */
export interface ErrorBody {
  readonly error: { readonly type: string; readonly message: string };
}

// ─── The payment provider ───────────────────────────────────────────────────────

/** A charge the provider made. */
export interface ProviderCharge {
  readonly id: string;
  readonly amount: number;
  readonly currency: string;
  readonly customer: string;
  readonly status: 'succeeded';
}

/**
 * What the provider answered. Like any call over a network, it has three outcomes, not two:
 * it definitely happened, it definitely did not, or nobody knows.
 */
export type ProviderResult =
  /** The card was charged (or a retry with the same provider key got the earlier answer back: `replayed`). */
  | { readonly kind: 'charged'; readonly charge: ProviderCharge; readonly replayed: boolean }
  /** The card was declined. Definite: nothing was charged, and retrying will not change that. */
  | { readonly kind: 'declined'; readonly status: 402; readonly code: string; readonly message: string }
  /** The provider refused the request itself (a 4xx other than 402). Definite: nothing was charged. */
  | { readonly kind: 'rejected'; readonly status: number; readonly type: string; readonly message: string }
  /**
   * No definite answer: the provider failed with a 5xx, the connection broke, or it did not
   * answer in time. The charge MAY HAVE BEEN MADE. Only a retry with the same provider
   * idempotency key finds out safely.
   */
  | { readonly kind: 'unknown'; readonly reason: string };

export interface PaymentProvider {
  /**
   * Charges `customer`'s card. Every call needs an idempotency key of your choosing: a
   * retry with the same key and the same parameters never charges twice, it gets the
   * first answer back. It never throws: an unknown outcome is `{ kind: 'unknown' }`.
   */
  createCharge(
    params: { readonly amount: number; readonly currency: Currency; readonly customer: string; readonly card: string },
    options: { readonly idempotencyKey: string },
  ): Promise<ProviderResult>;
}

/** The time. Use it for every time you store or compare: the grader moves it forward to test expiry and stale locks. */
export interface Clock {
  now(): Date;
}

/** Everything your endpoint is handed. */
export interface Deps {
  readonly db: Db;
  readonly provider: PaymentProvider;
  readonly clock: Clock;
}
