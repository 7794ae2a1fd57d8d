/**
 * The schema library, in one place: zod's tree-shakable "mini" build, which keeps
 * the extension bundle small (activation time matters), configured once with
 * English error messages so learners and lab authors read "expected string" rather
 * than "Invalid input". Import it as a namespace (`import * as z`) so that the
 * bundler keeps only what is used.
 */
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
