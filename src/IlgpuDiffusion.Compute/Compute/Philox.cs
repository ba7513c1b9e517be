namespace IlgpuDiffusion.Compute;

/// <summary>
/// Philox4x32-10 counter-based random numbers (Salmon et al., SC'11): the same
/// (seed, stream, index) gives the same number on every backend, so dropout masks are
/// regenerated in backward instead of stored. Pure integer math, callable from ILGPU kernels.
/// <para>Element <c>index</c> uses block index/4 — counter (block, stream), key seed — and word index mod 4.</para>
/// </summary>
public static class Philox
{
    private const uint M0 = 0xD2511F53u, M1 = 0xCD9E8D57u, W0 = 0x9E3779B9u, W1 = 0xBB67AE85u;

    /// <summary>The four words of Philox4x32-10 at counter (c0..c3) with key (k0, k1).</summary>
    public static void Generate(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1,
        out uint r0, out uint r1, out uint r2, out uint r3)
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
        r0 = c0;
        r1 = c1;
        r2 = c2;
        r3 = c3;
    }

    /// <summary>The four words of block <paramref name="block"/> (elements 4·block .. 4·block+3) of (seed, stream).</summary>
    public static void Block(ulong block, ulong seed, ulong stream, out uint r0, out uint r1, out uint r2, out uint r3) =>
        Generate((uint)block, (uint)(block >> 32), (uint)stream, (uint)(stream >> 32), (uint)seed, (uint)(seed >> 32),
            out r0, out r1, out r2, out r3);

    /// <summary>The 32 random bits for element <paramref name="index"/> of (seed, stream).</summary>
    public static uint Bits(ulong seed, ulong stream, long index)
    {
        Block((ulong)index >> 2, seed, stream, out uint r0, out uint r1, out uint r2, out uint r3);
        int word = (int)(index & 3);
        return word == 0 ? r0 : word == 1 ? r1 : word == 2 ? r2 : r3;
    }

    /// <summary>Maps 32 random bits to a float in [0, 1) with 24 random bits.</summary>
    public static float ToUniform(uint bits) => (bits >> 8) * (1.0f / 16777216.0f);

    /// <summary>A uniform float in [0, 1) for element <paramref name="index"/> of (seed, stream).</summary>
    public static float Uniform(ulong seed, ulong stream, long index) => ToUniform(Bits(seed, stream, index));

    /// <summary>
    /// A uniform double in [0, 1) with 53 random bits for element <paramref name="index"/> of (seed, stream):
    /// element i uses words 2·(i mod 2) and 2·(i mod 2)+1 of block i/2.
    /// </summary>
    public static double UniformDouble(ulong seed, ulong stream, long index)
    {
        Block((ulong)index >> 1, seed, stream, out uint r0, out uint r1, out uint r2, out uint r3);
        bool second = (index & 1) != 0;
        uint high = second ? r2 : r0, low = second ? r3 : r1;
        return ((high >> 5) * 67108864.0 + (low >> 6)) * (1.0 / 9007199254740992.0);
    }
}
