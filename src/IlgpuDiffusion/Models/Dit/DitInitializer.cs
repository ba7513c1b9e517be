using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Models;

/// <summary>
/// The initialization of docs/algorithms.md §1.3, reproducible from a seed: the embedding ~ U(±1/√D) (what
/// <c>kaiming_uniform_(a=√5)</c> gives for a [V, D] tensor); every other Linear weight and bias
/// ~ U(±1/√fan_in) (the PyTorch default); LayerNorm and QK-norm weights 1; all adaLN linears and the output
/// Linear zero, so a fresh model is the identity in every block and outputs logits ≡ 0.
/// Tensor k draws from Philox stream k, so each tensor's values are independent of the others' sizes.
/// </summary>
internal static class DitInitializer
{
    /// <summary>Overwrites every tensor of <paramref name="parameters"/> with its initial values.</summary>
    public static void Initialize(DitParameters parameters, ulong seed)
    {
        var entries = parameters.Entries;
        for (int k = 0; k < entries.Count; k++)
        {
            var (name, shape) = entries[k];
            var tensor = parameters[name];
            var values = new float[tensor.Length];
            switch (Rule(name, parameters))
            {
                case (InitKind.One, _):
                    Array.Fill(values, 1f);
                    break;
                case (InitKind.Uniform, float bound):
                    FillUniform(values, bound, seed, (ulong)k);
                    break;
            }
            tensor.CopyFrom(values);
        }
    }

    /// <summary>How tensor <paramref name="name"/> starts (the bound applies to <see cref="InitKind.Uniform"/>).</summary>
    internal static (InitKind Kind, float Bound) Rule(string name, DitParameters parameters)
    {
        if (name.Contains("adaLN_modulation", StringComparison.Ordinal)
            || name.StartsWith("output_layer.linear.", StringComparison.Ordinal))
            return (InitKind.Zero, 0f);
        if (name.EndsWith("norm1.weight", StringComparison.Ordinal) || name.EndsWith("norm2.weight", StringComparison.Ordinal)
            || name.EndsWith("norm_final.weight", StringComparison.Ordinal) || name.EndsWith("qk_norm.weight", StringComparison.Ordinal))
            return (InitKind.One, 0f);
        if (name == "vocab_embed.embedding")
            return (InitKind.Uniform, 1f / MathF.Sqrt(parameters.Config.Hidden));
        string weight = name.EndsWith(".bias", StringComparison.Ordinal) ? name[..^".bias".Length] + ".weight" : name;
        int fanIn = parameters.Entries.First(e => e.Name == weight).Shape[1];
        return (InitKind.Uniform, 1f / MathF.Sqrt(fanIn));
    }

    private static void FillUniform(float[] values, float bound, ulong seed, ulong stream)
    {
        for (long block = 0; 4 * block < values.Length; block++)
        {
            Philox.Block((ulong)block, seed, stream, out uint r0, out uint r1, out uint r2, out uint r3);
            long i = 4 * block;
            Span<uint> words = [r0, r1, r2, r3];
            for (int w = 0; w < 4 && i + w < values.Length; w++)
                values[i + w] = (2f * Philox.ToUniform(words[w]) - 1f) * bound;
        }
    }

    /// <summary>The three ways a tensor starts.</summary>
    internal enum InitKind
    {
        /// <summary>All zeros.</summary>
        Zero,
        /// <summary>All ones (LayerNorm and QK-norm weights).</summary>
        One,
        /// <summary>Uniform in ±bound.</summary>
        Uniform,
    }
}
