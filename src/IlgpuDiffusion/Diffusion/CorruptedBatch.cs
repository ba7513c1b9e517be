using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// Host buffers for one corrupted batch of <c>[batch, L]</c> token ids, allocated once and refilled by
/// <see cref="MaskedDiffusion.Corrupt"/> every step. The masked rows are listed in row-major order with
/// their clean targets and NELBO weights: the rows the output head and the loss work on, with any padding of
/// <see cref="PadHeadRows"/> after them.
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
    /// Row index b·L + l of each masked position, ascending; the first <see cref="MaskedCount"/> are valid, the
    /// padding rows follow them up to <see cref="HeadRows"/>. <c>[head rows]</c>
    /// </summary>
    public int[] MaskedRows { get; }

    /// <summary>The clean id x⁰ at each masked row (and each padding row). <c>[head rows]</c></summary>
    public int[] Targets { get; }

    /// <summary>NELBO weight 1/t of each masked row's sequence; 0 on the padding rows. <c>[head rows]</c></summary>
    public float[] Weights { get; }

    /// <summary>How many positions are masked.</summary>
    public int MaskedCount { get; internal set; }

    /// <summary>
    /// Rows the output head and the loss take: <see cref="MaskedCount"/>, or more after <see cref="PadHeadRows"/>.
    /// </summary>
    public int HeadRows { get; internal set; }

    /// <summary>
    /// Pads the head's rows to the next multiple of <paramref name="multiple"/> (at most all B·L positions) with the
    /// first unmasked positions, ascending, their clean ids as targets and weight 0: each padding row's loss and
    /// gradient are exactly zero (0·NLL, 0·(softmax − one-hot)), so the step's loss and gradients are those of the
    /// masked rows alone, while the head's GEMMs and the loss take whole tiles and a row count from a short list
    /// instead of one that changes with every draw. The rows stay distinct, as the head's backward scatter needs.
    /// Allocates nothing.
    /// </summary>
    /// <param name="multiple">The row multiple; 1 leaves the masked rows alone.</param>
    public void PadHeadRows(int multiple)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(multiple, 1);
        int masked = MaskedCount, rows = HeadRowPadding.Of(masked, multiple, Elements);
        int next = masked, listed = 0;
        for (int p = 0; next < rows; p++)
        {
            if (listed < masked && MaskedRows[listed] == p)
            {
                listed++;
                continue;
            }
            MaskedRows[next] = p;
            Targets[next] = NoisyIds[p];
            Weights[next] = 0f;
            next++;
        }
        HeadRows = rows;
    }
}
