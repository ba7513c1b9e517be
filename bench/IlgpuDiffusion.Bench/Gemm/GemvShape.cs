namespace IlgpuDiffusion.Bench.Gemm;

/// <summary>
/// One decode-time Linear forward y[m, n] = x[m, k]·w[n, k]ᵀ of <see cref="GemvBenchmarks"/>: m sequences decoded together,
/// k input and n output channels.
/// </summary>
public sealed record GemvShape(string Name, int M, int N, int K)
{
    /// <summary>Bytes of the weight, which the product must read once: what its GB/s count.</summary>
    public long WeightBytes => (long)N * K * sizeof(float);

    /// <summary>
    /// Batch 1 and 8 for the vocabulary heads of the 28.9M GPT (256 → 50258) and GPT-2 small (768 → 50257) and GPT-2's
    /// qkv (768 → 2304), MLP up (768 → 3072) and MLP down (3072 → 768) layers.
    /// </summary>
    public static IEnumerable<GemvShape> All()
    {
        (string Name, int In, int Out)[] layers =
            [("head 28.9M", 256, 50258), ("head GPT-2", 768, 50257), ("qkv", 768, 2304), ("mlp-up", 768, 3072), ("mlp-down", 3072, 768)];
        foreach (int m in new[] { 1, 8 })
            foreach (var (name, inChannels, outChannels) in layers)
                yield return new GemvShape(name, m, outChannels, inChannels);
    }

    /// <summary>Shown in the benchmark table, e.g. "qkv m=1 768→2304".</summary>
    public override string ToString() => $"{Name} m={M} {K}→{N}";
}
