// Placeholder: replaced by the real harness (embedded PostgreSQL + template database).
export default async function globalSetup(): Promise<void> {}
