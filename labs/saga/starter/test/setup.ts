/**
 * Runs before each test file. When the lab's PostgreSQL cannot be reached, the file stops
 * here with one message saying how to start it, instead of every test failing on its own.
 */
import { checkDatabase, databaseTarget } from './connection';

await checkDatabase(databaseTarget());
