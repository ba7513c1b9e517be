namespace IlgpuDiffusion.Models;

/// <summary>
/// Rows per chunk of an output head whose loss is taken chunk by chunk: the V-wide buffers (logits, log-probs) are sized
/// by bytes, so they hold the same number of rows whatever the batch.
/// </summary>
internal static class HeadChunks
{
    /// <summary>Bytes of one V-wide float buffer of a chunk.</summary>
    public const long Bytes = 64L << 20;

    /// <summary>
    /// As many rows of <paramref name="vocab"/> floats as fit <see cref="Bytes"/>: at least 1, at most <paramref name="rows"/>.
    /// </summary>
    public static int Rows(int vocab, int rows) => (int)Math.Clamp(Bytes / (sizeof(float) * (long)vocab), 1, rows);
}
