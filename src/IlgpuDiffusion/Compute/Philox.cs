namespace IlgpuDiffusion.Compute;

/// <summary>
/// Philox4x32-10 counter-based random numbers (Salmon et al., SC'11): the same
/// (seed, stream, index) gives the same number on every backend, so dropout masks are
/// regenerated in backward instead of stored. Pure integer math, callable from ILGPU kernels.
/// <para>Element <c>index</c> uses counter (index/4, stream) and key seed, word index mod 4.</para>
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;

    /// <summary>Word <paramref name="word"/> (0..3) of Philox4x32-10 at counter (c0..c3), key (k0, k1).</summary>
    public static uint Generate(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1, int word)
    {
        for (int round = 0; round < 10; round++)
        {
            ulong p0 = (ulong)M0 * c0;
            ulong p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0;
            uint hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
            k0 += W0;
            k1 += W1;
        }
        return word == 0 ? c0 : word == 1 ? c1 : word == 2 ? c2 : c3;
    }

    /// <summary>The 32 random bits for element <paramref name="index"/> of (seed, stream).</summary>
    public static uint Bits(ulong seed, ulong stream, long index)
    {
        ulong block = (ulong)index >> 2;
        return Generate((uint)block, (uint)(block >> 32), (uint)stream, (uint)(stream >> 32),
            (uint)seed, (uint)(seed >> 32), (int)(index & 3));
    }

    /// <summary>A uniform float in [0, 1) with 24 random bits for element <paramref name="index"/> of (seed, stream).</summary>
    public static float Uniform(ulong seed, ulong stream, long index) =>
        (Bits(seed, stream, index) >> 8) * (1.0f / 16777216.0f);
}
