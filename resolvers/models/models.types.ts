import { ArgsType, Field, Float, ID, InputType, Int, ObjectType } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import { toGlobalId } from '../../core/global-id';
import { Modality, Visibility, type Model, type ModelGrant, type ModelVersion, type TensorSignatureEntry } from '../../entities';
import { ConnectionType, PageArgs } from '../common/connection';
import { GrantNodeFields, grantFields } from '../common/grant.types';
import { Node } from '../common/node.types';
// Modality and Visibility are registered as GraphQL enums once, by the datasets feature.
import '../datasets/datasets.types';

@ObjectType('TensorSpec')
export class TensorSpecNode {
  @Field()
  name: string;

  @Field({ description: "ONNX Runtime's element type: float32, int64, …" })
  type: string;

  @Field(() => [Int], { description: 'Dimensions; -1 where the dimension is dynamic.' })
  shape: number[];

  static from(s: TensorSignatureEntry): TensorSpecNode {
    return Object.assign(new TensorSpecNode(), { name: s.name, type: s.type, shape: s.shape });
  }
}

@ObjectType('Model', { implements: Node })
export class ModelNode extends Node {
  @Field()
  name: string;

  @Field()
  task: string;

  @Field(() => Modality)
  modality: Modality;

  @Field(() => Visibility)
  visibility: Visibility;

  @Field(() => String, { nullable: true })
  description: string | null;

  @Field(() => String, { nullable: true })
  license: string | null;

  @Field()
  createdAt: Date;

  uuid: string;
  /** The owner. */
  tenantId: string;

  static from(m: Model): ModelNode {
    return Object.assign(new ModelNode(), {
      id: toGlobalId('Model', m.id), uuid: m.id, tenantId: m.tenantId, name: m.name, task: m.task, modality: m.modality,
      visibility: m.visibility, description: m.description, license: m.license, createdAt: m.createdAt,
    });
  }
}

@ObjectType('ModelVersion', { implements: Node })
export class ModelVersionNode extends Node {
  @Field(() => Int)
  version: number;

  @Field()
  handler: string;

  @Field({ description: 'SHA-256 of the ONNX file.' })
  sha256: string;

  @Field(() => Float)
  sizeBytes: number;

  @Field(() => [TensorSpecNode])
  inputs: TensorSpecNode[];

  @Field(() => [TensorSpecNode])
  outputs: TensorSpecNode[];

  @Field(() => JSONResolver, { description: "The handler's settings (labels of a classifier, OCR thresholds, …)." })
  config: Record<string, unknown>;

  @Field(() => Float, {
    nullable: true,
    description: 'Measured device seconds per item (warm-up, then a moving average of real runs); null until deployed once.',
  })
  perItemDeviceSeconds: number | null;

  @Field()
  createdAt: Date;

  uuid: string;
  modelId: string;
  tenantId: string;
  blobId: string;

  static from(v: ModelVersion): ModelVersionNode {
    return Object.assign(new ModelVersionNode(), {
      id: toGlobalId('ModelVersion', v.id), uuid: v.id, modelId: v.modelId, tenantId: v.tenantId, blobId: v.blobId,
      version: v.version, handler: v.handler, sha256: v.sha256, sizeBytes: Number(v.sizeBytes),
      inputs: v.inputs.map(TensorSpecNode.from), outputs: v.outputs.map(TensorSpecNode.from), config: v.config ?? {},
      perItemDeviceSeconds: v.perItemDeviceSeconds, createdAt: v.createdAt,
    });
  }
}

@ObjectType('ModelGrant', { implements: Node, description: 'Access to a SHARED model (listing, deploying, calling) for one other tenant.' })
export class ModelGrantNode extends GrantNodeFields {
  modelId: string;

  static from(g: ModelGrant): ModelGrantNode {
    return Object.assign(new ModelGrantNode(), { ...grantFields('ModelGrant', g), modelId: g.modelId });
  }
}

export const ModelConnection = ConnectionType(ModelNode, 'Model');
export const ModelVersionConnection = ConnectionType(ModelVersionNode, 'ModelVersion');

@InputType()
export class ModelFilter {
  @Field(() => String, { nullable: true, description: 'Slug of the owning tenant.' })
  owner?: string;

  @Field(() => String, { nullable: true })
  task?: string;

  @Field(() => Modality, { nullable: true })
  modality?: Modality;
}

@ArgsType()
export class ModelsArgs extends PageArgs {
  @Field(() => ModelFilter, { nullable: true })
  filter?: ModelFilter;
}

@InputType()
export class CreateModelInput {
  @Field()
  name: string;

  @Field()
  task: string;

  @Field(() => Modality)
  modality: Modality;

  @Field(() => Visibility)
  visibility: Visibility;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => String, { nullable: true })
  license?: string | null;
}

@InputType()
export class CreateModelVersionInput {
  @Field(() => ID)
  modelId: string;

  @Field(() => ID, { description: 'The ONNX file, uploaded first with POST /v1/blobs by the same tenant.' })
  blobId: string;

  @Field({ description: 'tensor, ocr, vad or image-classification.' })
  handler: string;

  @Field(() => JSONResolver, { nullable: true })
  config?: unknown;
}

@InputType()
export class ShareModelInput {
  @Field(() => ID)
  modelId: string;

  @Field()
  tenantSlug: string;

  @Field(() => String, { nullable: true })
  purpose?: string | null;

  @Field(() => Date, { nullable: true })
  expiresAt?: Date | null;
}
