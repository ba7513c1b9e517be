using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;

namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// The absorbing ("masked") forward process of MDLM (docs/algorithms.md §2.2–§2.4): every token of a sequence at time t
/// is replaced by MASK independently with probability (1−ε)·t, and each masked token enters the NELBO with
/// weight 1/t. Under SUBS the unmasked positions contribute exactly 0, so only masked rows are listed.
/// </summary>
/// <param name="Schedule">The noise schedule.</param>
/// <param name="MaskId">The MASK token id (<see cref="Gpt2Tokenizer.Mask"/> for the GPT-2 vocabulary).</param>
internal sealed record MaskedDiffusion(NoiseSchedule Schedule, int MaskId)
{
    /// <summary>MDLM on GPT-2 tokens: log-linear schedule with ε = 1e-3, MASK = 50257.</summary>
    public static MaskedDiffusion Mdlm { get; } = new(NoiseSchedule.LogLinear, Gpt2Tokenizer.Mask);

    /// <summary>
    /// Corrupts <paramref name="cleanIds"/> at the times already in <see cref="CorruptedBatch.Times"/>. Position
    /// p = b·L + l is masked when <see cref="Philox.Uniform"/>(seed, stream, p) &lt; (1−ε)·t_b, so the masks are
    /// fixed by (seed, stream): pass the micro-batch counter as the stream. Allocates nothing.
    /// </summary>
    /// <param name="cleanIds">[batch, L] clean token ids, none equal to the MASK id</param>
    /// <param name="batch">Receives the noisy ids, masked rows, targets and weights.</param>
    /// <exception cref="ArgumentException">The ids do not fill the batch, or a time lies outside (0, 1].</exception>
    public void Corrupt(ReadOnlySpan<int> cleanIds, ulong seed, ulong stream, CorruptedBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (cleanIds.Length != batch.Elements)
            throw new ArgumentException($"The batch holds {batch.Elements} ids ({batch.BatchSize} × {batch.SequenceLength}); " +
                $"got {cleanIds.Length}.", nameof(cleanIds));
        int length = batch.SequenceLength, masked = 0;
        for (int b = 0; b < batch.BatchSize; b++)
        {
            double t = batch.Times[b];
            float weight = (float)Schedule.LossWeight(t);
            double moveChance = Schedule.MoveChance(t);
            for (int p = b * length; p < (b + 1) * length; p++)
            {
                if (Philox.Uniform(seed, stream, p) < moveChance)
                {
                    batch.NoisyIds[p] = MaskId;
                    batch.MaskedRows[masked] = p;
                    batch.Targets[masked] = cleanIds[p];
                    batch.Weights[masked] = weight;
                    masked++;
                }
                else
                {
                    batch.NoisyIds[p] = cleanIds[p];
                }
            }
        }
        batch.MaskedCount = masked;
        batch.HeadRows = masked;
    }
}
