using IlgpuDiffusion.Compute;
using TensorPrimitives = System.Numerics.Tensors.TensorPrimitives;

namespace IlgpuDiffusion.Cpu;

// adaLN modulation h·(1+scale)+shift and the gated residual x + gate·branch, with
// per-sequence vectors [batch, channels]. Backward reductions over tokens run per
// (sequence, column block), each walking tokens in order: deterministic, no races.
public sealed unsafe partial class CpuKernels
{
    private readonly ModulateForwardJob _modulateForward = new();
    private readonly ModulateBackwardJob _modulateBackward = new();
    private readonly GatedResidualForwardJob _gatedForward = new();
    private readonly GatedResidualBackwardJob _gatedBackward = new();
    private float[]? _gatedBranchScratch;

    /// <inheritdoc/>
    public void ModulateForward(Tensor<float> input, Tensor<float> shift, Tensor<float> scale, Tensor<float> output,
        int batch, int tokens, int channels)
    {
        CheckSequenceOp(batch, tokens, channels, (input, nameof(input), true), (shift, nameof(shift), false),
            (scale, nameof(scale), false), (output, nameof(output), true));
        var job = _modulateForward;
        job.Input = input.Pointer();
        job.Shift = shift.Pointer();
        job.Scale = scale.Pointer();
        job.Output = output.Pointer();
        job.Tokens = tokens;
        job.Channels = channels;
        job.Run(_pool, batch * tokens, Math.Max(1, RowGrain / channels));
    }

    /// <inheritdoc/>
    public void ModulateBackward(Tensor<float> dOutput, Tensor<float> input, Tensor<float> scale,
        Tensor<float> dInput, Tensor<float> dShift, Tensor<float> dScale, int batch, int tokens, int channels, bool accumulate = true)
    {
        CheckSequenceOp(batch, tokens, channels, (dOutput, nameof(dOutput), true), (input, nameof(input), true),
            (scale, nameof(scale), false), (dInput, nameof(dInput), true), (dShift, nameof(dShift), false),
            (dScale, nameof(dScale), false));
        var job = _modulateBackward;
        job.DOutput = dOutput.Pointer();
        job.Input = input.Pointer();
        job.Scale = scale.Pointer();
        job.DInput = dInput.Pointer();
        job.DShift = dShift.Pointer();
        job.DScale = dScale.Pointer();
        job.SetSizes(tokens, channels, accumulate);
        job.Run(_pool, batch * job.BlocksPerSequence, 1);
    }

    /// <inheritdoc/>
    public void GatedResidualForward(Tensor<float> residual, Tensor<float> branch, Tensor<float> gate, Tensor<float> output,
        int batch, int tokens, int channels, DropoutMask? dropout = null)
    {
        CheckSequenceOp(batch, tokens, channels, (residual, nameof(residual), true), (branch, nameof(branch), true),
            (gate, nameof(gate), false), (output, nameof(output), true));
        // The dropout first, in place (two passes here: the CPU's rows stay in cache between them).
        if (dropout is { } mask)
            RunDropout(branch.Pointer(), branch.Pointer(), accumulate: false, batch * tokens * channels, mask.Probability, mask.Seed,
                mask.Stream);
        var job = _gatedForward;
        job.Residual = residual.Pointer();
        job.Branch = branch.Pointer();
        job.Gate = gate.Pointer();
        job.Output = output.Pointer();
        job.Tokens = tokens;
        job.Channels = channels;
        job.Run(_pool, batch * tokens, Math.Max(1, RowGrain / channels));
    }

    /// <inheritdoc/>
    public void GatedResidualBackward(Tensor<float> dOutput, Tensor<float> branch, Tensor<float> gate,
        Tensor<float> dBranch, Tensor<float> dGate, int batch, int tokens, int channels, bool accumulate = true,
        DropoutMask? dropout = null)
    {
        CheckSequenceOp(batch, tokens, channels, (dOutput, nameof(dOutput), true), (branch, nameof(branch), true),
            (gate, nameof(gate), false), (dBranch, nameof(dBranch), true), (dGate, nameof(dGate), false));
        if (dropout is { } mask) Check.Probability(mask.Probability, nameof(dropout));
        int elements = batch * tokens * channels;
        // With a dropout that adds to dBranch, gate·dOutput goes to a scratch first, then through the dropout's backward.
        float* gated = dropout is not null && accumulate ? Scratch(ref _gatedBranchScratch, elements) : dBranch.Pointer();
        var job = _gatedBackward;
        job.DOutput = dOutput.Pointer();
        job.Branch = branch.Pointer();
        job.Gate = gate.Pointer();
        job.DBranch = gated;
        job.DGate = dGate.Pointer();
        job.SetSizes(tokens, channels, accumulate);
        job.WriteBranch = dropout is not null;
        job.Run(_pool, batch * job.BlocksPerSequence, 1);
        if (dropout is { } forward)
            RunDropout(gated, dBranch.Pointer(), accumulate, elements, forward.Probability, forward.Seed, forward.Stream);
    }

    private static void CheckSequenceOp(int batch, int tokens, int channels,
        params ReadOnlySpan<(Tensor<float> Tensor, string Name, bool PerToken)> tensors)
    {
        Check.Sizes(true, batch, tokens);
        Check.Sizes(false, channels);
        foreach (var (tensor, name, perToken) in tensors)
            Check.Count(tensor, (long)batch * (perToken ? tokens : 1) * channels, name);
    }

    private sealed class ModulateForwardJob : ChunkedJob
    {
        public float* Input, Shift, Scale, Output;
        public int Tokens, Channels;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            for (int row = start; row < end; row++)
            {
                long b = row / Tokens;
                Modulate(new ReadOnlySpan<float>(Input + (long)row * Channels, Channels), new ReadOnlySpan<float>(Shift + b * Channels,
                    Channels), new ReadOnlySpan<float>(Scale + b * Channels, Channels), new Span<float>(Output + (long)row * Channels,
                    Channels));
            }
        }

        /// <summary>y = x·scale + x + shift over one row; y may be x.</summary>
        public static void Modulate(ReadOnlySpan<float> x, ReadOnlySpan<float> shift, ReadOnlySpan<float> scale, Span<float> y)
        {
            TensorPrimitives.MultiplyAdd(x, scale, x, y);
            TensorPrimitives.Add(y, shift, y);
        }
    }

    private sealed class GatedResidualForwardJob : ChunkedJob
    {
        public float* Residual, Branch, Gate, Output;
        public int Tokens, Channels;

        protected override void ExecuteRange(int chunk, int start, int end)
        {
            for (int row = start; row < end; row++)
            {
                long b = row / Tokens, offset = (long)row * Channels;
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(Branch + offset, Channels),
                    new ReadOnlySpan<float>(Gate + b * Channels, Channels),
                    new ReadOnlySpan<float>(Residual + offset, Channels), new Span<float>(Output + offset, Channels));
            }
        }
    }

    /// <summary>
    /// Work item = (sequence b, block of <see cref="ColumnBlock"/> columns); subclasses handle one item, adding to their
    /// outputs when <see cref="Accumulate"/>, else overwriting them.
    /// </summary>
    private abstract class SequenceColumnJob : ChunkedJob
    {
        public int Tokens, Channels, BlocksPerSequence;
        public bool Accumulate;

        public void SetSizes(int tokens, int channels, bool accumulate)
        {
            Tokens = tokens;
            Channels = channels;
            Accumulate = accumulate;
            BlocksPerSequence = (channels + ColumnBlock - 1) / ColumnBlock;
        }

        protected sealed override void ExecuteRange(int chunk, int start, int end)
        {
            for (int item = start; item < end; item++)
            {
                int b = item / BlocksPerSequence, c0 = item % BlocksPerSequence * ColumnBlock;
                ExecuteBlock(b, c0, Math.Min(ColumnBlock, Channels - c0));
            }
        }

        protected abstract void ExecuteBlock(int b, int c0, int width);
    }

    private sealed class ModulateBackwardJob : SequenceColumnJob
    {
        public float* DOutput, Input, Scale, DInput, DShift, DScale;

        protected override void ExecuteBlock(int b, int c0, int width)
        {
            long vec = (long)b * Channels + c0;
            var scale = new ReadOnlySpan<float>(Scale + vec, width);
            var dShift = new Span<float>(DShift + vec, width);
            var dScale = new Span<float>(DScale + vec, width);
            if (!Accumulate)
            {
                dShift.Clear();
                dScale.Clear();
            }
            for (int t = 0; t < Tokens; t++)
            {
                long offset = ((long)b * Tokens + t) * Channels + c0;
                var dy = new ReadOnlySpan<float>(DOutput + offset, width);
                var dx = new Span<float>(DInput + offset, width);
                if (Accumulate) TensorPrimitives.MultiplyAdd(dy, scale, dx, dx);
                else TensorPrimitives.Multiply(dy, scale, dx);
                TensorPrimitives.Add(dx, dy, dx);
                TensorPrimitives.Add(dShift, dy, dShift);
                TensorPrimitives.MultiplyAdd(dy, new ReadOnlySpan<float>(Input + offset, width), dScale, dScale);
            }
        }
    }

    /// <summary>dBranch (=, or += with Accumulate and not <see cref="WriteBranch"/>) gate·dOutput; dGate (+)= Σ_t dOutput·branch.</summary>
    private sealed class GatedResidualBackwardJob : SequenceColumnJob
    {
        public float* DOutput, Branch, Gate, DBranch, DGate;
        public bool WriteBranch;

        protected override void ExecuteBlock(int b, int c0, int width)
        {
            long vec = (long)b * Channels + c0;
            var gate = new ReadOnlySpan<float>(Gate + vec, width);
            var dGate = new Span<float>(DGate + vec, width);
            if (!Accumulate) dGate.Clear();
            for (int t = 0; t < Tokens; t++)
            {
                long offset = ((long)b * Tokens + t) * Channels + c0;
                var dy = new ReadOnlySpan<float>(DOutput + offset, width);
                var dBranch = new Span<float>(DBranch + offset, width);
                if (Accumulate && !WriteBranch) TensorPrimitives.MultiplyAdd(dy, gate, dBranch, dBranch);
                else TensorPrimitives.Multiply(dy, gate, dBranch);
                TensorPrimitives.MultiplyAdd(dy, new ReadOnlySpan<float>(Branch + offset, width), dGate, dGate);
            }
        }
    }
}
