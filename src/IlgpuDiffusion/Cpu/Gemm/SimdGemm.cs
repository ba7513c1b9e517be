using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Cpu.Gemm;

/// <summary>Interim GEMM (replaced by the packed micro-kernel engine).</summary>
internal static unsafe class SimdGemm
{
    /// <summary>c[m,n] (+)= op(a)·op(b).</summary>
    public static void Multiply(MatMulLayout layout, float* a, float* b, float* c, int m, int n, int k, bool accumulate)
    {
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                float s = 0;
                for (int p = 0; p < k; p++)
                {
                    float av = layout == MatMulLayout.AtB ? a[(long)p * m + i] : a[(long)i * k + p];
                    float bv = layout == MatMulLayout.ABt ? b[(long)j * k + p] : b[(long)p * n + j];
                    s += av * bv;
                }
                c[(long)i * n + j] = accumulate ? c[(long)i * n + j] + s : s;
            }
    }
}
