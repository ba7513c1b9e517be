using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// The MDLM training loss on the device (docs/algorithms.md §2.4–§2.6): for the masked rows of a <see cref="CorruptedBatch"/>,
/// weights[r]·(−log p_θ(x⁰ | z_t)) under SUBS with weight 1/t, summed and divided by all B·L token slots
/// (unmasked slots contribute exactly 0 under SUBS carry-over, so they are never computed). Buffers are sized
/// once for B·L rows; nothing is allocated per call.
/// </summary>
internal sealed class NelboLoss : IDisposable
{
    private readonly IKernels _kernels;
    private readonly float[] _hostLosses;
    private int _rows;

    /// <summary>Allocates device buffers for up to B·L masked rows.</summary>
    /// <param name="head">The logits' columns: the vocabulary, whose last entry is the MASK that SUBS suppresses, then padding.</param>
    public NelboLoss(Device device, int batchSize, int sequenceLength, HeadLayout head)
    {
        ArgumentNullException.ThrowIfNull(device);
        int elements = TokenRows.Of(batchSize, sequenceLength);
        _kernels = device.Kernels;
        Head = head.Validate(nameof(head));
        TokenSlots = elements;
        MaskedRows = device.AllocateTensor<int>(new Shape(elements));
        Targets = device.AllocateTensor<int>(new Shape(elements));
        Weights = device.AllocateTensor<float>(new Shape(elements));
        Losses = device.AllocateTensor<float>(new Shape(elements));
        _hostLosses = new float[elements];
    }

    /// <summary>The logits' columns: the vocabulary (MASK last), then any padding.</summary>
    public HeadLayout Head { get; }

    /// <summary>B·L: the token slots the loss is divided by.</summary>
    public int TokenSlots { get; }

    /// <summary>Row index b·L + l of each masked position (the rows the output head computes). <c>[masked]</c></summary>
    public Tensor<int> MaskedRows { get; }

    /// <summary>Clean ids of the masked rows. <c>[masked]</c></summary>
    public Tensor<int> Targets { get; }

    /// <summary>NELBO weights 1/t of the masked rows. <c>[masked]</c></summary>
    public Tensor<float> Weights { get; }

    /// <summary>Per-row weighted losses of the last <see cref="EvaluateSum"/>. <c>[masked]</c></summary>
    public Tensor<float> Losses { get; }

    /// <summary>Head rows of the uploaded batch: its masked rows and any padding (<see cref="CorruptedBatch.HeadRows"/>).</summary>
    public int Rows => _rows;

    /// <summary>Copies the head rows (masked and padding), targets and weights of <paramref name="batch"/> to the device.</summary>
    public void Upload(CorruptedBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Elements != TokenSlots)
            throw new ArgumentException($"The loss is sized for {TokenSlots} token slots; the batch has {batch.Elements}.", nameof(batch));
        _rows = batch.HeadRows;
        MaskedRows.Slice(0, _rows).CopyFrom(batch.MaskedRows.AsSpan(0, _rows));
        Targets.Slice(0, _rows).CopyFrom(batch.Targets.AsSpan(0, _rows));
        Weights.Slice(0, _rows).CopyFrom(batch.Weights.AsSpan(0, _rows));
    }

    /// <summary>
    /// Queues the per-row weighted losses of the uploaded batch into <paramref name="losses"/> without waiting for them
    /// (the trainer reads them with the step's gradient norm): their sum over <see cref="TokenSlots"/> is the MDLM loss,
    /// Σ_masked weights·NLL / (B·L). When <paramref name="dLogits"/> is given it is overwritten with
    /// gradScale·∂(Σ weighted NLL)/∂logits.
    /// </summary>
    /// <param name="logits">[masked, Head.Width] in the order of <see cref="MaskedRows"/></param>
    /// <param name="dLogits">[masked, Head.Width] or null; may alias <paramref name="logits"/></param>
    /// <param name="gradScale">1/(B·L·accumulation) for training: the gradient of the mean over all token slots of the step.</param>
    /// <param name="losses">[<see cref="Rows"/>]</param>
    public void Queue(Tensor<float> logits, Tensor<float>? dLogits, float gradScale, Tensor<float> losses) =>
        _kernels.SubsCrossEntropy(logits, Targets, Weights, losses, dLogits, _rows, Head.Width, Head.Vocab, Head.MaskIndex, gradScale);

    /// <summary>As <see cref="Queue"/> into <see cref="Losses"/>, read at once: the sum Σ_masked weights·NLL (in double).</summary>
    /// <param name="logits">[masked, Head.Width]</param>
    /// <param name="dLogits">[masked, Head.Width] or null</param>
    public double EvaluateSum(Tensor<float> logits, Tensor<float>? dLogits, float gradScale)
    {
        Queue(logits, dLogits, gradScale, Losses.Slice(0, _rows));
        Losses.Slice(0, _rows).CopyTo(_hostLosses.AsSpan(0, _rows));
        double sum = 0;
        for (int r = 0; r < _rows; r++) sum += _hostLosses[r];
        return sum;
    }

    /// <summary>
    /// Adds Σ weights·NLL of the uploaded masked rows [<paramref name="first"/>, <paramref name="first"/> + count) to
    /// <paramref name="sum"/> (in double, row by row, so chunks add up exactly as one call would) and returns it.
    /// </summary>
    /// <param name="logits">[count, Head.Width]: the head's logits of those rows</param>
    public double AddRows(double sum, Tensor<float> logits, int first, int count)
    {
        if (first < 0 || count < 0 || first + count > _rows)
            throw new ArgumentOutOfRangeException(nameof(count),
                $"Rows [{first}, {first + count}) are not within the {_rows} masked rows.");
        Tensor<float> losses = Losses.Slice(first, count);
        _kernels.SubsCrossEntropy(logits, Targets.Slice(first, count), Weights.Slice(first, count), losses, null, count, Head.Width,
            Head.Vocab, Head.MaskIndex, 1f);
        losses.CopyTo(_hostLosses.AsSpan(first, count));
        for (int r = first; r < first + count; r++) sum += _hostLosses[r];
        return sum;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        MaskedRows.Buffer.Dispose();
        Targets.Buffer.Dispose();
        Weights.Buffer.Dispose();
        Losses.Buffer.Dispose();
    }
}
