using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;

namespace IlgpuDiffusion.Evaluation;

/// <summary>
/// LAMBADA for a masked diffusion model as SDTT's <c>eval_lambada</c> scores it (docs/algorithms.md §5.5), one example at a time with
/// no padding:
/// <list type="bullet">
/// <item>Accuracy: the context, MASK at every word token, the final EOS visible (<see cref="LambadaScoring.MaskedInput"/>);
/// one forward pass; greedy argmax over the text ids (MASK excluded); correct when every word token matches.</item>
/// <item>Per-word ELBO: <c>draws</c> times from SDTT's antithetic sampler (<see cref="TimeSampler.Sdtt"/>: one shared
/// offset, evenly spaced); at each time t every word token is masked with probability (1−ε)t (the log-linear schedule),
/// the context and the EOS stay clean; the word NLL is Σ over masked word tokens of −log p_SUBS · 1/t, averaged over the
/// draws. A draw that masks nothing adds 0, as in the reference.</item>
/// </list>
/// The accuracy row and the draws run as one batch of 1 + draws sequences, the head only on the rows that are scored.
/// Examples longer than the model's context lose their oldest context tokens (<see cref="LambadaExample.TruncatedTo"/>).
/// A time-conditioned model sees σ(t) of each draw and σ(1) for the accuracy row (the released models ignore σ).
/// </summary>
public static class DiffusionLambada
{
    /// <summary>Draws of t per example in SDTT's evaluation.</summary>
    public const int DefaultTimeDraws = 32;

    /// <summary>Scores every example; the outcomes are in the order of <paramref name="examples"/>.</summary>
    /// <param name="model">The diffusion model with the weights to evaluate (normally the EMA).</param>
    /// <param name="seed">Fixes the times and masks of the ELBO draws (example i uses streams 2i and 2i + 1).</param>
    /// <param name="progress">Called with (examples done, total) after each example.</param>
    /// <exception cref="ArgumentException">No example, fewer than one draw, or an id outside the model's text ids.</exception>
    public static IReadOnlyList<LambadaOutcome> Score(Dit model, IReadOnlyList<LambadaExample> examples,
        int timeDraws = DefaultTimeDraws, ulong seed = 0, Action<int, int>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(examples);
        ArgumentOutOfRangeException.ThrowIfLessThan(timeDraws, 1);
        if (examples.Count == 0) throw new ArgumentException("LAMBADA needs at least one example.", nameof(examples));
        var fitted = new LambadaExample[examples.Count];
        for (int i = 0; i < fitted.Length; i++)
        {
            LambadaExample example = examples[i] ?? throw new ArgumentException($"Example {i} is null.", nameof(examples));
            fitted[i] = example.TruncatedTo(model.Config.Length);
            foreach (int id in fitted[i].Sequence())
                if ((uint)id >= (uint)model.Config.MaskIndex)
                    throw new ArgumentException($"Example {i} holds token {id}; the model's text ids are [0, {model.Config.MaskIndex}).",
                        nameof(examples));
        }
        int maxWord = fitted.Max(e => e.WordLength);
        using var buffers = new HeadBuffers(model.Device, (1 + timeDraws) * maxWord);
        var outcomes = new LambadaOutcome[fitted.Length];
        Pass? pass = null;
        try
        {
            int done = 0;
            foreach (int i in Enumerable.Range(0, fitted.Length).OrderBy(i => fitted[i].ContextIds.Length + fitted[i].TargetIds.Length))
            {
                int length = fitted[i].ContextIds.Length + fitted[i].TargetIds.Length;
                if (pass?.Length != length)
                {
                    pass?.Dispose();
                    pass = new Pass(model, 1 + timeDraws, length, Math.Min(buffers.Capacity, (1 + timeDraws) * length));
                }
                outcomes[i] = ScoreOne(model, pass, buffers, fitted[i], timeDraws, seed, (ulong)i);
                progress?.Invoke(++done, fitted.Length);
            }
        }
        finally
        {
            pass?.Dispose();
        }
        return outcomes;
    }

    private static LambadaOutcome ScoreOne(Dit model, Pass pass, HeadBuffers head, LambadaExample example, int draws, ulong seed,
        ulong index)
    {
        var schedule = NoiseSchedule.LogLinear;
        int length = pass.Length, word = example.WordLength, start = example.WordStart, mask = model.Config.MaskIndex;
        int[] sequence = example.Sequence();
        Span<double> times = pass.Times;
        TimeSampler.Sdtt.Sample(seed, 2 * index, times);

        // Row 0: every word token masked (accuracy); rows 1..draws: the ELBO draws.
        LambadaScoring.MaskedInput(example, mask).CopyTo(pass.HostIds, 0);
        pass.Sigma[0] = (float)schedule.TotalNoise(1);
        int rows = 0;
        for (int k = 0; k < word; k++) head.Rows[rows++] = start + k;
        for (int d = 0; d < draws; d++)
        {
            double t = times[d], moveChance = schedule.MoveChance(t);
            int offset = (d + 1) * length;
            sequence.CopyTo(pass.HostIds, offset);
            pass.Sigma[d + 1] = (float)schedule.TotalNoise(t);
            for (int k = 0; k < word; k++)
            {
                int p = start + k;
                if (Philox.Uniform(seed, 2 * index + 1, (long)d * length + p) >= moveChance) continue;
                pass.HostIds[offset + p] = mask;
                head.Rows[rows] = offset + p;
                head.Targets[rows] = sequence[p];
                head.Weights[rows] = (float)schedule.LossWeight(t);
                rows++;
            }
        }
        pass.Ids.CopyFrom(pass.HostIds);
        head.Upload(rows);
        Tensor<float> logits = model.Forward(pass.Activations, pass.Ids, model.Config.TimeConditioning ? pass.Sigma : default,
            head.DeviceRows, rows, DitDropout.Off);
        IKernels kernels = model.Device.Kernels;
        int classes = model.Config.PaddedVocab, vocab = model.Config.Vocab;
        kernels.Argmax(logits.Slice(0, word), head.DevicePredicted.Slice(0, word), word, classes, mask);
        head.DevicePredicted.Slice(0, word).CopyTo(head.Predicted.AsSpan(0, word));
        double nll = 0;
        int scored = rows - word;
        if (scored > 0)
        {
            kernels.SubsCrossEntropy(logits.Slice(word, scored), head.DeviceTargets.Slice(word, scored),
                head.DeviceWeights.Slice(word, scored), head.DeviceLosses.Slice(0, scored), null, scored, classes, vocab, mask, 1f);
            head.DeviceLosses.Slice(0, scored).CopyTo(head.Losses.AsSpan(0, scored));
            for (int r = 0; r < scored; r++) nll += head.Losses[r];
        }
        bool correct = LambadaScoring.IsExactMatch(head.Predicted.AsSpan(0, word), example);
        return new LambadaOutcome(correct, nll / draws, word);
    }

    /// <summary>Activations and ids for one sequence length.</summary>
    private sealed class Pass : IDisposable
    {
        public Pass(Dit model, int batch, int length, int headCapacity)
        {
            Length = length;
            Activations = model.CreateActivations(batch, length, training: false, headCapacity);
            Ids = model.Device.AllocateTensor<int>(new Shape(batch * length));
            HostIds = new int[batch * length];
            Sigma = new float[batch];
            Times = new double[batch - 1];
        }

        public int Length { get; }

        public DitActivations Activations { get; }

        public Tensor<int> Ids { get; }

        public int[] HostIds { get; }

        public float[] Sigma { get; }

        public double[] Times { get; }

        public void Dispose()
        {
            Activations.Dispose();
            Ids.Buffer.Dispose();
        }
    }

    /// <summary>Head rows, targets, weights, losses and argmax ids, sized once for the longest word.</summary>
    private sealed class HeadBuffers : IDisposable
    {
        public HeadBuffers(Device device, int capacity)
        {
            Capacity = capacity;
            Rows = new int[capacity];
            Targets = new int[capacity];
            Weights = new float[capacity];
            Losses = new float[capacity];
            Predicted = new int[capacity];
            DeviceRows = device.AllocateTensor<int>(new Shape(capacity));
            DeviceTargets = device.AllocateTensor<int>(new Shape(capacity));
            DeviceWeights = device.AllocateTensor<float>(new Shape(capacity));
            DeviceLosses = device.AllocateTensor<float>(new Shape(capacity));
            DevicePredicted = device.AllocateTensor<int>(new Shape(capacity));
        }

        public int Capacity { get; }

        public int[] Rows { get; }

        public int[] Targets { get; }

        public float[] Weights { get; }

        public float[] Losses { get; }

        public int[] Predicted { get; }

        public Tensor<int> DeviceRows { get; }

        public Tensor<int> DeviceTargets { get; }

        public Tensor<float> DeviceWeights { get; }

        public Tensor<float> DeviceLosses { get; }

        public Tensor<int> DevicePredicted { get; }

        /// <summary>Uploads the first <paramref name="count"/> rows, targets and weights.</summary>
        public void Upload(int count)
        {
            DeviceRows.Slice(0, count).CopyFrom(Rows.AsSpan(0, count));
            DeviceTargets.Slice(0, count).CopyFrom(Targets.AsSpan(0, count));
            DeviceWeights.Slice(0, count).CopyFrom(Weights.AsSpan(0, count));
        }

        public void Dispose()
        {
            foreach (IDisposable buffer in new IDisposable[] { DeviceRows.Buffer, DeviceTargets.Buffer, DeviceWeights.Buffer,
                DeviceLosses.Buffer, DevicePredicted.Buffer })
                buffer.Dispose();
        }
    }
}
