/**
 * What runs a lab's services: real servers in Docker, or, without Docker, the embedded
 * engine (PGlite for PostgreSQL) or a grader's own stand-ins. One type for the services,
 * the grading engine, the report, the CLI and the editor.
 */
export const BACKENDS = ['docker', 'embedded'] as const;
export type Backend = (typeof BACKENDS)[number];
