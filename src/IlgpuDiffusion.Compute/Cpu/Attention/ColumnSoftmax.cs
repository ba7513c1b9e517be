using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using V16 = System.Runtime.Intrinsics.Vector512<float>;
using V8 = System.Runtime.Intrinsics.Vector256<float>;

namespace IlgpuDiffusion.Cpu.Attention;

/// <summary>
/// Softmax steps on a transposed score tile sᵀ[key, query] (base-2 scores): every query is a column,
/// so row maxima and sums become vertical vector operations with no horizontal reductions.
/// n (columns) is a multiple of <see cref="Simd.Lane"/>.
/// </summary>
internal static unsafe class ColumnSoftmax
{
    /// <summary>
    /// Online-softmax step over <paramref name="rows"/> keys: max' = max(max, column max of s);
    /// alpha = 2^(max − max'); s ← 2^(s − max'); sum ← sum·alpha + column sum of s; max ← max'.
    /// </summary>
    /// <param name="s">[rows, lds] scores in, probabilities (unnormalized) out</param>
    /// <param name="max">[n] running column maxima</param>
    /// <param name="sum">[n] running column sums</param>
    /// <param name="alpha">[n] out: the factor the output accumulator must be rescaled by</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Update(SimdLevel level, float* s, long lds, int rows, int n, float* max, float* sum, float* alpha)
    {
        int j = 0;
        if (level == SimdLevel.Vector512)
            for (; j < n; j += 16)
            {
                // Two accumulators per reduction halve the dependency chains.
                V16 old = Vector512.Load(max + j), top = old, top2 = old, total = V16.Zero, total2 = V16.Zero;
                int r = 0;
                for (; r + 1 < rows; r += 2)
                {
                    top = Vector512.MaxNative(top, Vector512.Load(s + r * lds + j));
                    top2 = Vector512.MaxNative(top2, Vector512.Load(s + (r + 1) * lds + j));
                }
                if (r < rows) top = Vector512.MaxNative(top, Vector512.Load(s + r * lds + j));
                top = Vector512.MaxNative(top, top2);
                for (r = 0; r + 1 < rows; r += 2)
                {
                    V16 p = Exp2.Of(Vector512.Load(s + r * lds + j) - top), p2 = Exp2.Of(Vector512.Load(s + (r + 1) * lds + j) - top);
                    p.Store(s + r * lds + j);
                    p2.Store(s + (r + 1) * lds + j);
                    total += p;
                    total2 += p2;
                }
                if (r < rows)
                {
                    V16 p = Exp2.Of(Vector512.Load(s + r * lds + j) - top);
                    p.Store(s + r * lds + j);
                    total += p;
                }
                total += total2;
                V16 a = Exp2.Of(old - top);
                a.Store(alpha + j);
                top.Store(max + j);
                Vector512.FusedMultiplyAdd(Vector512.Load(sum + j), a, total).Store(sum + j);
            }
        else if (level == SimdLevel.Vector256)
            for (; j < n; j += 8)
            {
                V8 old = Vector256.Load(max + j), top = old, total = V8.Zero;
                for (int r = 0; r < rows; r++) top = Vector256.MaxNative(top, Vector256.Load(s + r * lds + j));
                for (int r = 0; r < rows; r++)
                {
                    V8 p = Exp2.Of(Vector256.Load(s + r * lds + j) - top);
                    p.Store(s + r * lds + j);
                    total += p;
                }
                V8 a = Exp2.Of(old - top);
                a.Store(alpha + j);
                top.Store(max + j);
                Vector256.FusedMultiplyAdd(Vector256.Load(sum + j), a, total).Store(sum + j);
            }
        for (; j < n; j++)
        {
            float old = max[j], top = old, total = 0f;
            for (int r = 0; r < rows; r++) top = MathF.Max(top, s[r * lds + j]);
            for (int r = 0; r < rows; r++)
            {
                float p = Exp2.Of(s[r * lds + j] - top);
                s[r * lds + j] = p;
                total += p;
            }
            float a = Exp2.Of(old - top);
            alpha[j] = a;
            max[j] = top;
            sum[j] = sum[j] * a + total;
        }
    }

    /// <summary>Backward recompute: s ← 2^(s − lse[column]) (normalized probabilities).</summary>
    /// <param name="s">[rows, lds] base-2 scores in, probabilities out</param>
    /// <param name="lse">[n] base-2 log-sum-exp of each query</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Probabilities(SimdLevel level, float* s, long lds, int rows, int n, float* lse)
    {
        for (int r = 0; r < rows; r++)
        {
            float* row = s + r * lds;
            int j = 0;
            if (level == SimdLevel.Vector512)
                for (; j < n; j += 16) Exp2.Of(Vector512.Load(row + j) - Vector512.Load(lse + j)).Store(row + j);
            else if (level == SimdLevel.Vector256)
                for (; j < n; j += 8) Exp2.Of(Vector256.Load(row + j) - Vector256.Load(lse + j)).Store(row + j);
            for (; j < n; j++) row[j] = Exp2.Of(row[j] - lse[j]);
        }
    }

    /// <summary>Softmax backward on a tile: dp ← p∘(dp − delta[column]), delta = rowsum(dO∘O) of each query.</summary>
    /// <param name="p">[rows, lds] probabilities</param>
    /// <param name="dp">[rows, lds] dO·vᵀ in, score gradients out</param>
    /// <param name="delta">[n]</param>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScoreGradient(SimdLevel level, float* p, float* dp, long lds, int rows, int n, float* delta)
    {
        for (int r = 0; r < rows; r++)
        {
            float* pr = p + r * lds, dr = dp + r * lds;
            int j = 0;
            if (level == SimdLevel.Vector512)
                for (; j < n; j += 16) (Vector512.Load(pr + j) * (Vector512.Load(dr + j) - Vector512.Load(delta + j))).Store(dr + j);
            else if (level == SimdLevel.Vector256)
                for (; j < n; j += 8) (Vector256.Load(pr + j) * (Vector256.Load(dr + j) - Vector256.Load(delta + j))).Store(dr + j);
            for (; j < n; j++) dr[j] = pr[j] * (dr[j] - delta[j]);
        }
    }

    /// <summary>
    /// Causal mask: s[r, j] = <paramref name="value"/> where key (firstKey + r) comes after query (firstQuery + j).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void MaskFuture(float* s, long lds, int rows, int n, int firstKey, int firstQuery, float value)
    {
        for (int r = 0; r < rows; r++)
        {
            // Columns j < firstKey + r − firstQuery see a key in their future.
            int end = Math.Min(n, firstKey + r - firstQuery);
            for (int j = 0; j < end; j++) s[r * lds + j] = value;
        }
    }
}
