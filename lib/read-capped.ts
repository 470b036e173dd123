/**
 * Reads a stream to one buffer, refusing it once it passes `maxBytes`: up front when its declared
 * length (Content-Length) says it will, else as soon as that many bytes have arrived. Nothing is
 * allocated from the declaration: a client may claim any size and then send nothing.
 * Shared by request bodies and image downloads.
 */
export async function readCapped(
  stream: AsyncIterable<Buffer>,
  declaredLength: string | undefined,
  maxBytes: number,
  tooLarge: () => Error,
): Promise<Buffer> {
  if (declaredLength !== undefined && Number(declaredLength) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  // Leaving the loop early (throw) destroys the stream.
  for await (const chunk of stream) {
    total += chunk.length;
    if (total > maxBytes) throw tooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}
