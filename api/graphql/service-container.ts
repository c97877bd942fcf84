// A deliberately tiny dependency container for type-graphql: resolvers name their services as
// constructor parameters; instances are singletons registered at the composition root. No
// decorators, no scanning — every instance here was built explicitly in api/platform.ts.
import type { ContainerType } from 'type-graphql';

type Class<T = unknown> = abstract new (...args: never[]) => T;

export class ServiceContainer implements ContainerType {
  private readonly instances = new Map<Function, unknown>();

  register<T>(cls: Class<T>, instance: T): this {
    this.instances.set(cls, instance);
    return this;
  }

  get<T>(cls: Class<T>): T {
    const existing = this.instances.get(cls);
    if (existing) return existing as T;
    // A resolver: construct it once from its registered constructor dependencies.
    const params: Function[] = Reflect.getMetadata('design:paramtypes', cls) ?? [];
    const args = params.map((p) => {
      const dep = this.instances.get(p);
      if (!dep) throw new Error(`${cls.name} needs ${p.name}, which is not registered in the container`);
      return dep;
    });
    const instance = new (cls as unknown as new (...a: unknown[]) => T)(...args);
    this.instances.set(cls, instance);
    return instance;
  }
}
