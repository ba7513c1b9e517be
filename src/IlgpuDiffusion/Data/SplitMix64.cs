namespace IlgpuDiffusion.Data;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny, fast generator whose output is fixed by its
/// seed on every platform and .NET version, so data splits and shuffles are reproducible forever.
/// </summary>
internal struct SplitMix64(ulong seed)
{
    private ulong _state = seed;

    /// <summary>A generator for one purpose (e.g. one epoch) derived from a seed and a stream number.</summary>
    public static SplitMix64 ForStream(ulong seed, ulong stream)
    {
        var mixer = new SplitMix64(seed ^ (stream * 0xD1B54A32D192ED03ul));
        return new SplitMix64(mixer.Next());
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        ulong z = _state += 0x9E3779B97F4A7C15ul;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ul;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBul;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// A uniform integer in [0, <paramref name="bound"/>) (Lemire's multiply-shift; bias below 2^-32 for bounds under 2^32).
    /// </summary>
    public int NextInt(int bound) => (int)Math.BigMul(Next(), (ulong)bound, out _);

    /// <summary>Fisher–Yates shuffle of <paramref name="items"/> in place.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
