// What the knowledge plane needs from an embedding model. The id is stored with each collection,
// and a collection only ever holds vectors from the model it was created with.
import { ErrorCode, SystemError } from '@aifactory/core';

/** Turns texts into vectors of a fixed size. */
export interface Embedder {
  /** Stable model id stored with each collection, e.g. `local:hashing-v1-384`, `openai:text-embedding-3-small`. */
  readonly id: string;
  /** Length of every vector this embedder returns. */
  readonly dimensions: number;
  /** Embeds texts in order; returns one vector per text. */
  embed(texts: string[]): Promise<Float32Array[]>;
}

/** Calls the embedder and checks it kept its promise (count, length, finite values). */
export async function embedChecked(embedder: Embedder, texts: string[]): Promise<Float32Array[]> {
  if (texts.length === 0) return [];
  const vectors = await embedder.embed(texts);
  if (vectors.length !== texts.length) {
    throw new SystemError(ErrorCode.Internal, `Embedder '${embedder.id}' returned ${vectors.length} vectors for ${texts.length} texts.`);
  }
  for (const [position, vector] of vectors.entries()) {
    if (vector.length !== embedder.dimensions) {
      throw new SystemError(
        ErrorCode.Internal,
        `Embedder '${embedder.id}' returned a vector of ${vector.length} dimensions at position ${position}; it declares ${embedder.dimensions}.`,
      );
    }
    for (const value of vector) {
      if (!Number.isFinite(value))
        throw new SystemError(ErrorCode.Internal, `Embedder '${embedder.id}' returned a non-finite value at position ${position}.`);
    }
  }
  return vectors;
}

/** Scales a vector to unit length in place (a zero vector stays zero); returns it. */
export function normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const value of vector) sum += value * value;
  if (sum === 0) return vector;
  const scale = 1 / Math.sqrt(sum);
  for (let position = 0; position < vector.length; position++) vector[position]! *= scale;
  return vector;
}

/** Encodes a vector as little-endian float32 bytes for the store. */
export function vectorToBytes(vector: Float32Array): Uint8Array {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  for (let position = 0; position < vector.length; position++) view.setFloat32(position * 4, vector[position]!, true);
  return bytes;
}

/** Decodes little-endian float32 bytes from the store. */
export function bytesToVector(bytes: Uint8Array): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vector = new Float32Array(bytes.byteLength / 4);
  for (let position = 0; position < vector.length; position++) vector[position] = view.getFloat32(position * 4, true);
  return vector;
}
