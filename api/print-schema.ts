// Prints the GraphQL schema (SDL) without a database: `npm run print-schema > schema.graphql`.
import 'reflect-metadata';
import { buildAppSchema, printAppSchema } from './graphql/schema';
import { ServiceContainer } from './graphql/service-container';

buildAppSchema(new ServiceContainer()).then((schema) => process.stdout.write(printAppSchema(schema)), (err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
