using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

/// <summary>
/// Row math of the SUBS parameterization on the CPU: the MASK logit counts as logit − 1e6
/// (zero masking probability) without modifying the row.
/// </summary>
internal static class SubsRow
{
    /// <summary>The finite "−∞" SUBS adds to the MASK logit.</summary>
    public const float MaskPenalty = -1e6f;

    /// <summary>max_v of the SUBS-adjusted row.</summary>
    public static float Max(ReadOnlySpan<float> row, int maskIndex)
    {
        float max = row[maskIndex] + MaskPenalty;
        if (maskIndex > 0) max = Math.Max(max, TensorPrimitives.Max(row[..maskIndex]));
        if (maskIndex + 1 < row.Length) max = Math.Max(max, TensorPrimitives.Max(row[(maskIndex + 1)..]));
        return max;
    }

    /// <summary>
    /// exp(row − max) into <paramref name="exps"/> (the MASK entry SUBS-adjusted) and their sum.
    /// <paramref name="exps"/> may alias <paramref name="row"/>.
    /// </summary>
    public static float ExpAndSum(ReadOnlySpan<float> row, int maskIndex, float max, Span<float> exps)
    {
        float maskLogit = row[maskIndex];
        TensorPrimitives.Subtract(row, max, exps);
        exps[maskIndex] = maskLogit + MaskPenalty - max;
        TensorPrimitives.Exp(exps, exps);
        return TensorPrimitives.Sum(exps);
    }

    /// <summary>log Σ exp of the SUBS-adjusted row, using <paramref name="block"/> as scratch (any length ≥ 1).</summary>
    public static float LogSumExp(ReadOnlySpan<float> row, int maskIndex, float max, Span<float> block)
    {
        float sum = 0;
        for (int start = 0; start < row.Length; start += block.Length)
        {
            int n = Math.Min(block.Length, row.Length - start);
            var part = block[..n];
            TensorPrimitives.Subtract(row.Slice(start, n), max, part);
            if (maskIndex >= start && maskIndex < start + n) part[maskIndex - start] += MaskPenalty;
            TensorPrimitives.Exp(part, part);
            sum += TensorPrimitives.Sum(part);
        }
        return max + MathF.Log(sum);
    }
}
