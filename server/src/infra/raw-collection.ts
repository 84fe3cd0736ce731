import type { Model, mongo } from 'mongoose';

/**
 * The driver collection behind a model, typed with the model's document. Hot paths (message and
 * conversation inserts) write through it directly: the document is built complete by the service,
 * so mongoose's casting and validation would only cost time.
 */
export function rawCollection<T extends object>(model: Model<T>): mongo.Collection<T> {
  return model.collection as unknown as mongo.Collection<T>;
}
