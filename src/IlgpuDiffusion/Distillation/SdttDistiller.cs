using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Distributed;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Distillation;

/// <summary>The outcome of one distillation step.</summary>
/// <param name="Step">Optimizer steps done after it.</param>
/// <param name="Round">The round (from 0) the step belonged to.</param>
/// <param name="Loss">Mean divergence over the masked rows, averaged over the step's micro-batches.</param>
/// <param name="GradientNorm">Global gradient L2 norm before clipping.</param>
/// <param name="LearningRate">The step's learning rate.</param>
/// <param name="RoundEnded">Whether the step finished its round (the teacher has then been replaced).</param>
public readonly record struct DistillationStepResult(
    long Step, int Round, double Loss, double GradientNorm, double LearningRate, bool RoundEnded);

/// <summary>
/// Multi-round Self-Distillation Through Time (docs/algorithms.md §4, paper Algorithm 1). A frozen teacher (eval mode, no dropout,
/// no gradients) and a student that starts as its exact copy (train mode, dropout on). Each micro-batch: clean ids →
/// one SDTT time per sequence (shared offset on [1e-5, 1]) → z_t with mask probability (1−1e-3)·t → teacher targets
/// from K ancestral teacher steps of size Δ (<see cref="TeacherTargets"/>) → student logits on z_t at the masked rows
/// only → divergence averaged over masked rows (no 1/t) → backward. Then clipped AdamW with warm-up and the EMA.
/// The student's trunk runs once on z_t; the V-wide work (teacher and student heads, log-probs, draws, divergence and the
/// head's backward) runs in chunks of rows, so those buffers hold one chunk (about <see cref="HeadChunks.Bytes"/> each)
/// however large B·L is; the student's trunk backward runs once after the last chunk.
/// After each round's steps the teacher becomes the student (raw weights, or the EMA) and Δ doubles. All randomness
/// is counter-based, so <see cref="SaveCheckpoint"/> / <see cref="LoadCheckpoint"/> continue bit for bit on the CPU
/// backend. Allocates nothing per step. <see cref="Run"/> adds logging, round checkpoints and progress.
/// </summary>
public sealed partial class SdttDistiller : ITrainingSteps, IDisposable
{
    private readonly Dit _student;
    private readonly DitTeacher _teacher;
    private readonly TokenShardSet _trainData;
    private readonly MaskedDiffusion _diffusion;
    private readonly CorruptedBatch _corrupted;
    private readonly int[] _cleanIds;
    private readonly float[] _sigma;
    private readonly Tensor<int> _noisyIds;
    private readonly TeacherTargets _targets;
    private readonly DitActivations _activations;
    private readonly DistillationLoss _loss;
    private readonly OptimizerRun _run;
    private readonly Divergence _divergence;
    private readonly ulong _timeSeed, _maskSeed, _dropoutSeed, _revealSeed, _drawSeed;

    /// <summary>
    /// Prepares to distill <paramref name="initial"/> (a trained model; copied, not kept) on <paramref name="trainData"/>.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The data does not fit the model: sequences longer than it takes, another tokenizer, or ids beyond its vocabulary.
    /// </exception>
    public SdttDistiller(Dit initial, TokenShardSet trainData, DistillationConfig config)
        : this(initial, trainData, config, headChunkRows: null, DataParallelGroup.Single)
    {
    }

    /// <summary>
    /// Prepares to distill <paramref name="initial"/> as one rank of <paramref name="group"/>: the rank runs its share of every
    /// step's micro-batches, and the ranks' gradients are added before each update, so students, EMAs and teachers stay
    /// identical on every rank (docs/data-parallel.md). Every rank must construct its distiller with the same model, data and
    /// config, and take the same steps.
    /// </summary>
    /// <exception cref="ArgumentException">As the one-process constructor, or the accumulation is not a multiple of the ranks.</exception>
    public SdttDistiller(Dit initial, TokenShardSet trainData, DistillationConfig config, DataParallelGroup group)
        : this(initial, trainData, config, headChunkRows: null, group)
    {
    }

    /// <summary>
    /// Prepares a distiller whose head chunks hold <paramref name="headChunkRows"/> rows (capped at B·L), as one rank of
    /// <paramref name="group"/>.
    /// </summary>
    /// <param name="initial">The teacher of the first round, which the student starts from.</param>
    /// <param name="trainData">The training sequences.</param>
    /// <param name="config">The distillation's settings.</param>
    /// <param name="headChunkRows">Rows per head chunk, or null for <see cref="HeadChunks.Rows"/>.</param>
    /// <param name="group">The ranks, or null for one process.</param>
    /// <param name="headRowMultiple">
    /// The multiple the student's head rows are padded to (<see cref="TargetChunk.HeadRows"/>), or null for the device's
    /// <see cref="Device.HeadRowMultiple"/>.
    /// </param>
    internal SdttDistiller(Dit initial, TokenShardSet trainData, DistillationConfig config, int? headChunkRows,
        DataParallelGroup? group = null, int? headRowMultiple = null)
    {
        group ??= DataParallelGroup.Single;
        ArgumentNullException.ThrowIfNull(initial);
        ArgumentNullException.ThrowIfNull(trainData);
        ArgumentNullException.ThrowIfNull(config);
        Config = config.Validate();
        Rounds = config.Rounds;
        TrainingConfig training = config.Training;
        DitConfig model = initial.Config;
        int batch = training.BatchSize, length = trainData.SequenceLength;
        if (length > model.Length)
            throw new ArgumentException($"Sequences of {length} ids exceed the model's length {model.Length}.", nameof(trainData));
        TokenShardFit.Require(trainData, model.Tokenizer, model.Vocab, withMask: true, nameof(trainData));
        _trainData = trainData;
        _divergence = config.Divergence.Kernel(config.CompatReleasedCode);
        _diffusion = new MaskedDiffusion(NoiseSchedule.LogLinear, model.MaskIndex);
        _corrupted = new CorruptedBatch(batch, length);
        if (headChunkRows is < 1)
            throw new ArgumentOutOfRangeException(nameof(headChunkRows), $"Head chunks need at least one row; got {headChunkRows}.");
        int chunkRows = Math.Min(headChunkRows ?? HeadChunks.Rows(model.PaddedVocab, _corrupted.Elements), _corrupted.Elements);
        _cleanIds = new int[_corrupted.Elements];
        _sigma = new float[batch];
        _timeSeed = TrainingSeeds.Times(training.Seed);
        _maskSeed = TrainingSeeds.Masks(training.Seed);
        _dropoutSeed = TrainingSeeds.Dropout(training.Seed);
        _revealSeed = TrainingSeeds.TeacherReveals(training.Seed);
        _drawSeed = TrainingSeeds.TeacherDraws(training.Seed);

        Device device = initial.Device;
        int multiple = headRowMultiple ?? device.HeadRowMultiple;
        ArgumentOutOfRangeException.ThrowIfLessThan(multiple, 1, nameof(headRowMultiple));
        int headCapacity = HeadRowPadding.Of(chunkRows, multiple, _corrupted.Elements);
        var owned = new List<IDisposable>();
        try
        {
            _student = Own(owned, new Dit(model, device, withGradients: true));
            _student.CopyParametersFrom(initial);
            _teacher = Own(owned, new DitTeacher(model, device, batch, length, chunkRows));
            _teacher.Model.CopyParametersFrom(initial);
            _noisyIds = device.AllocateTensor<int>(new Shape(batch, length));
            owned.Add(_noisyIds.Buffer);
            _targets = Own(owned, new TeacherTargets(device, batch, length, HeadLayout.Of(model), config.TeacherSteps, chunkRows,
                multiple));
            _activations = Own(owned, _student.CreateActivations(batch, length, training: true, headCapacity));
            _loss = new DistillationLoss(chunkRows, HeadLayout.Of(model));
            _run = Own(owned, new OptimizerRun(trainData, _student.Parameters.All, _student.Gradients!.All, training, group,
                _student.Gradients.BlockRanges, lossRows: TokenRows.Of(training.BatchSize, trainData.SequenceLength)));
            _student.BlockGradientsFinished = _run.BlockGradientsFinished;
        }
        catch
        {
            foreach (var item in owned) item.Dispose();
            throw;
        }
    }

    /// <summary>The run's settings.</summary>
    public DistillationConfig Config { get; }

    /// <summary>The rounds of the run.</summary>
    public RoundSchedule Rounds { get; }

    /// <summary>The student being trained (raw weights).</summary>
    public Dit Student => _student;

    /// <summary>The frozen teacher of the current round.</summary>
    public Dit Teacher => _teacher.Model;

    /// <summary>The moving average of the student's weights.</summary>
    public Ema Ema => _run.Ema;

    /// <summary>Adam's moments and step count.</summary>
    public ClippedAdamW Optimizer => _run.Optimizer;

    /// <summary>Optimizer steps done over all rounds.</summary>
    public long Step => _run.Step;

    /// <summary>Rounds finished.</summary>
    public int CompletedRounds => (int)(Step / Rounds.StepsPerRound);

    /// <summary>Whether every round is done.</summary>
    public bool IsFinished => Step >= Rounds.TotalSteps;

    /// <summary>Student token slots per optimizer step: B·L·accumulation.</summary>
    public long TokensPerStep => (long)Config.Training.SequencesPerStep * _trainData.SequenceLength;

    /// <summary>The teacher targets of the last micro-batch (its rows, per-step counts and final state).</summary>
    internal TeacherTargets Targets => _targets;

    /// <summary>Rows per head chunk.</summary>
    internal int HeadChunkRows => _targets.ChunkRows;

    /// <summary>The corrupted batch z_t of the last micro-batch.</summary>
    internal CorruptedBatch Corrupted => _corrupted;

    /// <summary>Everything besides tensors needed to continue this run exactly.</summary>
    public TrainingState State => _run.State;

    /// <summary>The distillation part of the state.</summary>
    public DistillationState DistillationState => new(CompletedRounds, Rounds.InitialSamplingSteps >> CompletedRounds, Optimizer.Steps);

    /// <summary>Takes one optimizer step of the current round; allocates nothing.</summary>
    /// <exception cref="InvalidOperationException">Every round is done.</exception>
    public DistillationStepResult TrainStep()
    {
        if (IsFinished)
            throw new InvalidOperationException("Distillation is finished: " +
                $"all {Rounds.Count} rounds of {Rounds.StepsPerRound} steps are done.");
        int round = Rounds.RoundOf(Step);
        double stepSize = Rounds.TeacherStepSize(round);
        double learningRate = _run.LearningRate;
        int accumulation = Config.Training.GradientAccumulationSteps;
        _student.ZeroGradients();
        for (int micro = 0; micro < _run.LocalMicroBatches; micro++)
        {
            ulong stream = _run.NextMicroBatch(_cleanIds);
            TimeSampler.Sdtt.Sample(_timeSeed, stream, _corrupted.Times);
            _diffusion.Corrupt(_cleanIds, _maskSeed, stream, _corrupted);
            _targets.Plan(_corrupted, stepSize, Config.CompatReleasedCode, _revealSeed, _drawSeed, stream);
            int masked = _targets.Count;
            if (masked == 0) continue; // nothing masked: no loss and no gradient from this micro-batch
            DistillMicroBatch(stream, 1f / accumulation / masked, masked);
        }
        StepResult result = _run.FinishStep(learningRate);
        bool roundEnded = result.Step % Rounds.StepsPerRound == 0;
        if (roundEnded) NextTeacher(); // also after the last round: a run resumed with a lower minimum goes on from there
        return new DistillationStepResult(result.Step, round, result.Loss, result.GradientNorm, learningRate, roundEnded);
    }

    /// <summary>
    /// The student's forward and backward on the planned micro-batch z_t: its trunk once, then per target chunk the teacher's
    /// log-probs, the student's head on the same rows, the divergence with its gradient, and the head's backward; finally the
    /// trunk's backward. The rows' divergences are queued for the step's end, where their sum over the
    /// <paramref name="masked"/> rows is the micro-batch's loss.
    /// </summary>
    /// <param name="rowGradientScale">Each row's weight in the step's loss: 1/(accumulation · masked rows).</param>
    private void DistillMicroBatch(ulong stream, float rowGradientScale, int masked)
    {
        for (int b = 0; b < _sigma.Length; b++) _sigma[b] = (float)_diffusion.Schedule.TotalNoise(_corrupted.Times[b]);
        _noisyIds.CopyFrom(_corrupted.NoisyIds);
        DitDropout dropout = Config.Training.Dropout ? DitDropout.Training(_dropoutSeed, stream) : DitDropout.Off;
        _student.ForwardTrunk(_activations, _noisyIds, _sigma, dropout);
        while (_targets.NextChunk(_teacher, out TargetChunk chunk))
        {
            // The head on the chunk's rows and the padding after them, whose gradients are zero: [head rows, V].
            int headRows = chunk.HeadRows.Shape[0], padding = headRows - chunk.Count;
            Tensor<float> logits = _student.ForwardHead(_activations, chunk.HeadRows, headRows);
            _loss.Queue(_divergence, logits.Slice(0, chunk.Count), chunk.LogProbs, logits.Slice(0, chunk.Count), chunk.Count,
                rowGradientScale, _run.LossRows(chunk.Count, masked));
            if (padding > 0) _student.Device.Kernels.Fill(logits.Slice(chunk.Count, padding), 0f, padding * logits.Shape[1]);
            _student.BackwardHead(_activations, logits);
        }
        _student.BackwardTrunk(_activations);
    }

    /// <summary>Ends a round: the teacher becomes the student (raw or EMA weights); optimizer and EMA restart if asked.</summary>
    private void NextTeacher()
    {
        Tensor<float> source = Config.TeacherFromEma ? Ema.Weights : _student.Parameters.All;
        _student.Device.Kernels.Copy(source, _teacher.Model.Parameters.All, checked((int)source.Length));
        if (Config.ResetOptimizerEachRound) Optimizer.Reset();
        if (Config.ResetEmaEachRound) Ema.Reset();
    }

    /// <summary>Writes a checkpoint (student, EMA, Adam moments, teacher, configs, state) atomically to <paramref name="path"/>.</summary>
    /// <exception cref="InvalidOperationException">The weights diverged (not finite); nothing was written.</exception>
    public void SaveCheckpoint(string path)
    {
        _run.EnsureFinite();
        MdlmCheckpoint.Save(path, new MdlmCheckpointHeader(_student.Config, Config.Training, State), _student.Parameters,
            Ema.Weights, Optimizer.FirstMoment, Optimizer.SecondMoment,
            [(DistillationCheckpoint.TeacherPrefix, _teacher.Model.Parameters.All)],
            DistillationCheckpoint.Metadata(Config, DistillationState));
    }

    /// <summary>
    /// Writes the student's EMA weights with the configs and distillation state (its sampling steps), without raw weights,
    /// Adam moments or teacher, atomically to <paramref name="path"/>: what sampling and evaluation load, not a resume point.
    /// </summary>
    /// <exception cref="InvalidOperationException">The weights diverged (not finite); nothing was written.</exception>
    public void SaveWeights(string path)
    {
        _run.EnsureFinite();
        MdlmCheckpoint.SaveWeights(path, new MdlmCheckpointHeader(_student.Config, Config.Training, State), _student.Parameters,
            Ema.Weights, DistillationCheckpoint.Metadata(Config, DistillationState));
    }

    /// <summary>
    /// Restores student, teacher, EMA, Adam moments, counters and data position from a checkpoint of a compatible run;
    /// the next <see cref="TrainStep"/> continues exactly where it stopped, mid-round or not.
    /// </summary>
    /// <exception cref="InvalidDataException">The checkpoint is damaged, not a distillation checkpoint, or made by an
    /// incompatible run.</exception>
    public TrainingState LoadCheckpoint(string path)
    {
        // Everything that can refuse is checked before any tensor is overwritten.
        var (savedConfig, savedState) = DistillationCheckpoint.Read(path);
        DistillationCheckpoint.CheckCompatible(path, savedConfig, Config);
        TrainingState header = MdlmCheckpoint.ReadHeader(path).State;
        if (header.Step > Rounds.TotalSteps)
            throw new InvalidDataException($"'{path}' is at step {header.Step}, past this run's {Rounds.TotalSteps} steps; " +
                "raise the minimum sampling steps back.");
        return _run.Restore(header.DataPosition, () => MdlmCheckpoint.Load(path, _student.Config, Config.Training, _student.Parameters,
            Ema.Weights, Optimizer.FirstMoment, Optimizer.SecondMoment,
            [(DistillationCheckpoint.TeacherPrefix, _teacher.Model.Parameters.All)]).State, savedState.AdamSteps);
    }

    private static T Own<T>(List<IDisposable> owned, T item) where T : IDisposable
    {
        owned.Add(item);
        return item;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _run.Dispose();
        _activations.Dispose();
        _targets.Dispose();
        _noisyIds.Buffer.Dispose();
        _teacher.Dispose();
        _student.Dispose();
    }
}
