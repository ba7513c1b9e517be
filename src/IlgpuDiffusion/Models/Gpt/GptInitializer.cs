using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>
/// GPT-2's initialization (HF <c>GPT2PreTrainedModel._init_weights</c>), reproducible from a seed: embeddings and
/// Linear weights ~ N(0, 0.02²), the two residual projections (<c>c_proj</c>) ~ N(0, (0.02/√(2·layers))²), biases 0,
/// LayerNorm weights 1 and biases 0. Tensor k draws from Philox stream k (Box–Muller on pairs of uniforms), so each
/// tensor's values are independent of the others' sizes.
/// </summary>
internal static class GptInitializer
{
    /// <summary>Standard deviation of the weights (GPT-2's <c>initializer_range</c>).</summary>
    public const double Std = 0.02;

    /// <summary>Overwrites every tensor of <paramref name="parameters"/> with its initial values.</summary>
    public static void Initialize(GptParameters parameters, ulong seed)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var entries = parameters.Entries;
        double projectionStd = Std / Math.Sqrt(2.0 * parameters.Config.Layers);
        for (int k = 0; k < entries.Count; k++)
        {
            string name = entries[k].Name;
            var values = new float[parameters[name].Length];
            if (name.EndsWith("ln_1.weight", StringComparison.Ordinal) || name.EndsWith("ln_2.weight", StringComparison.Ordinal)
                || name == "ln_f.weight")
                Array.Fill(values, 1f);
            else if (name.EndsWith(".weight", StringComparison.Ordinal) && !name.Contains("ln_", StringComparison.Ordinal))
                FillNormal(values, name.EndsWith("c_proj.weight", StringComparison.Ordinal) ? projectionStd : Std, seed, (ulong)k);
            parameters[name].CopyFrom(values);
        }
    }

    private static void FillNormal(float[] values, double std, ulong seed, ulong stream)
    {
        for (long pair = 0; 2 * pair < values.Length; pair++)
        {
            double u1 = Philox.UniformDouble(seed, stream, 2 * pair), u2 = Philox.UniformDouble(seed, stream, 2 * pair + 1);
            double radius = std * Math.Sqrt(-2.0 * Math.Log(1.0 - u1)); // 1 − u1 ∈ (0, 1]
            values[2 * pair] = (float)(radius * Math.Cos(2 * Math.PI * u2));
            if (2 * pair + 1 < values.Length) values[2 * pair + 1] = (float)(radius * Math.Sin(2 * Math.PI * u2));
        }
    }
}
