/**
 * Reads a stream to one buffer, refusing it once it passes `maxBytes`: up front when its declared
 * length (Content-Length) says it will, else as soon as that many bytes have arrived. Nothing is
 * allocated from the declaration: a client may claim any size and then send nothing. A caller that
 * has memory at hand for the declared length (a pooled buffer) passes it as `into`: the bytes are
 * then copied there as they come, instead of into a fresh buffer at the end.
 * Shared by request bodies and image downloads.
 */
export async function readCapped(
  stream: AsyncIterable<Buffer>,
  declaredLength: string | undefined,
  maxBytes: number,
  tooLarge: () => Error,
  into?: Buffer,
): Promise<Buffer> {
  if (declaredLength !== undefined && Number(declaredLength) > maxBytes) throw tooLarge();
  const chunks: Buffer[] = [];
  let total = 0;
  // Leaving the loop early (throw) destroys the stream.
  for await (const chunk of stream) {
    if (into && total + chunk.length > into.length) throw new Error('The stream is longer than its declared length.');
    total += chunk.length;
    if (total > maxBytes) throw tooLarge();
    if (into) chunk.copy(into, total - chunk.length);
    else chunks.push(chunk);
  }
  return into ? into.subarray(0, total) : Buffer.concat(chunks, total);
}
