namespace IlgpuDiffusion.Models;

/// <summary>
/// The sinusoidal timestep embedding of MDLM's <c>TimestepEmbedder</c> (GLIDE/DiT, max period 10000):
/// e = [cos(σ·f_0..f_127), sin(σ·f_0..f_127)] with f_i = exp(−ln(10000)·i/128), cos first.
/// Computed in fp32 on the host (one row per sequence) and uploaded with the ids.
/// </summary>
internal static class TimestepEmbeddings
{
    private const float MaxPeriod = 10000f;

    /// <summary>Writes the embedding of <paramref name="sigma"/> into <paramref name="row"/> [256].</summary>
    public static void Write(Span<float> row, float sigma)
    {
        int half = row.Length / 2;
        for (int i = 0; i < half; i++)
        {
            float frequency = MathF.Exp(-MathF.Log(MaxPeriod) * i / half);
            float angle = sigma * frequency;
            row[i] = MathF.Cos(angle);
            row[half + i] = MathF.Sin(angle);
        }
    }
}
