namespace IlgpuDiffusion.Models;

/// <summary>
/// Dropout of one forward pass. Off for evaluation and every no-grad pass; in training each
/// branch's mask is the Philox stream of (step, layer, branch) under <see cref="Seed"/>, so the
/// backward pass regenerates the masks and no two passes with distinct steps share one.
/// </summary>
/// <param name="Enabled">Whether dropout applies (training mode).</param>
/// <param name="Seed">Philox key of the run.</param>
/// <param name="Step">A counter unique per forward pass (e.g. optimizer step × micro-batches + micro-batch), below 2^47.</param>
public readonly record struct DitDropout(bool Enabled, ulong Seed, ulong Step)
{
    private const int LayerBits = 16;

    /// <summary>Evaluation mode: no dropout.</summary>
    public static DitDropout Off => default;

    /// <summary>Training mode with masks drawn from (seed, step).</summary>
    public static DitDropout Training(ulong seed, ulong step) => new(true, seed, step);

    /// <summary>The Philox stream of <paramref name="branch"/> (0 attention, 1 MLP) in block <paramref name="layer"/>.</summary>
    public ulong Stream(int layer, int branch) =>
        (Step << (LayerBits + 1)) | ((ulong)(uint)layer << 1) | (uint)branch;

    /// <summary>Throws unless the streams of this pass are distinct for <paramref name="layers"/> blocks.</summary>
    internal void Validate(int layers)
    {
        if (Enabled && (layers > 1 << LayerBits || Step >= 1UL << (63 - LayerBits)))
            throw new ArgumentOutOfRangeException(nameof(Step), $"Dropout streams need at most {1 << LayerBits} layers " +
                $"and step < 2^{63 - LayerBits}; got {layers} layers, step {Step}.");
    }
}
