using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Bench.Gemm;

/// <summary>One GEMM c[m,n] = op(a)·op(b) of the benchmark, with the layer and direction it stands for.</summary>
public sealed record GemmShape(string Name, MatMulLayout Layout, int M, int N, int K)
{
    /// <summary>Floating-point operations of one product: one multiply and one add per term.</summary>
    public double Flops => 2.0 * M * N * K;

    /// <summary>
    /// M=N=K=1024 in each layout, then the Linear layers of the paper's small model (2048
    /// tokens, 768 channels): forward Y = X·Wᵀ (ABt), input gradient dX = dY·W (AB) and
    /// weight gradient dW = dYᵀ·X (AtB).
    /// </summary>
    public static IEnumerable<GemmShape> All()
    {
        foreach (var layout in new[] { MatMulLayout.ABt, MatMulLayout.AB, MatMulLayout.AtB })
            yield return new GemmShape("square", layout, 1024, 1024, 1024);
        const int tokens = 2048;
        foreach (var (name, inChannels, outChannels) in
            new[] { ("qkv", 768, 2304), ("out", 768, 768), ("mlp-up", 768, 3072), ("mlp-down", 3072, 768) })
        {
            yield return new GemmShape($"{name} fwd", MatMulLayout.ABt, tokens, outChannels, inChannels);  // [T,in]·[out,in]ᵀ
            yield return new GemmShape($"{name} dX", MatMulLayout.AB, tokens, inChannels, outChannels);    // [T,out]·[out,in]
            yield return new GemmShape($"{name} dW", MatMulLayout.AtB, outChannels, inChannels, tokens);   // [T,out]ᵀ·[T,in]
        }
    }

    /// <summary>Shown in the benchmark table, e.g. "qkv fwd ABt 2048x2304x768".</summary>
    public override string ToString() => $"{Name} {Layout} {M}x{N}x{K}";
}
