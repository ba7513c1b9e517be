using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// Host buffers for one corrupted batch of <c>[batch, L]</c> token ids, allocated once and refilled by
/// <see cref="MaskedDiffusion.Corrupt"/> every step. The masked rows are listed in row-major order with
/// their clean targets and NELBO weights: exactly the rows the output head and the loss work on.
/// </summary>
internal sealed class CorruptedBatch
{
    /// <summary>Allocates buffers for <paramref name="batchSize"/> sequences of <paramref name="sequenceLength"/> ids.</summary>
    public CorruptedBatch(int batchSize, int sequenceLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(sequenceLength, 1);
        BatchSize = batchSize;
        SequenceLength = sequenceLength;
        int elements = TokenRows.Of(batchSize, sequenceLength);
        Times = new double[batchSize];
        NoisyIds = new int[elements];
        MaskedRows = new int[elements];
        Targets = new int[elements];
        Weights = new float[elements];
    }

    /// <summary>B: sequences.</summary>
    public int BatchSize { get; }

    /// <summary>L: ids per sequence.</summary>
    public int SequenceLength { get; }

    /// <summary>B × L.</summary>
    public int Elements => BatchSize * SequenceLength;

    /// <summary>Diffusion time of each sequence. <c>[batch]</c></summary>
    public double[] Times { get; }

    /// <summary>The corrupted ids z_t: clean ids with masked positions set to the MASK id. <c>[batch, L]</c></summary>
    public int[] NoisyIds { get; }

    /// <summary>
    /// Row index b·L + l of each masked position, ascending; the first <see cref="MaskedCount"/> are valid. <c>[masked]</c>
    /// </summary>
    public int[] MaskedRows { get; }

    /// <summary>The clean id x⁰ at each masked row. <c>[masked]</c></summary>
    public int[] Targets { get; }

    /// <summary>NELBO weight 1/t of each masked row's sequence. <c>[masked]</c></summary>
    public float[] Weights { get; }

    /// <summary>How many positions are masked.</summary>
    public int MaskedCount { get; internal set; }
}
