namespace IlgpuDiffusion.Models;

/// <summary>
/// The token rows of a batch, sequences × tokens: kernels and host buffers index them with 32-bit integers, so a batch
/// with more rows is refused with a message that names the batch size, rather than an arithmetic overflow.
/// </summary>
internal static class TokenRows
{
    /// <summary><paramref name="batch"/> × <paramref name="tokens"/>, checked to fit an <see cref="int"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The product exceeds <see cref="int.MaxValue"/>.</exception>
    public static int Of(int batch, int tokens)
    {
        long rows = (long)batch * tokens;
        if (rows > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(batch), $"A batch of {batch} sequences of {tokens} tokens holds {rows} tokens, " +
                $"more than the {int.MaxValue} that kernels index; use a smaller batch size.");
        return (int)rows;
    }
}
