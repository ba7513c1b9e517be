using IlgpuDiffusion.Data;
using IlgpuDiffusion.Distributed;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Autoregressive;

/// <summary>
/// Next-token training of a <see cref="Gpt"/> with the optimizer machinery every trainer shares: each optimizer step runs
/// <see cref="TrainingConfig.GradientAccumulationSteps"/> micro-batches of batch → forward (dropout per
/// <see cref="TrainingConfig.Dropout"/>) → cross-entropy of every next token with gradient scale 1/(B·(L−1)·accumulation)
/// → backward, then <see cref="ClippedAdamW"/> (warm-up and decay from <see cref="LrSchedule"/>) and the <see cref="Ema"/>
/// update. Data order and dropout are counter-based (<see cref="TrainingState"/>), so a checkpoint resumes bit for bit.
/// Knows nothing of backends; a step allocates nothing. <see cref="Run"/> adds logging, validation and checkpoints.
/// </summary>
public sealed partial class ArTrainer : ITrainingSteps, IDisposable
{
    private readonly Gpt _model;
    private readonly TokenShardSet _trainData;
    private readonly GptActivations _activations;
    private readonly NextTokenBatch _batch;
    private readonly OptimizerRun _run;
    private readonly ulong _dropoutSeed;
    private readonly float _gradScale;

    /// <summary>Prepares training of <paramref name="model"/> (initialized or loaded) on <paramref name="trainData"/>.</summary>
    /// <exception cref="ArgumentException">
    /// The model has no gradients, or the data does not fit it: sequence length, another tokenizer, or ids beyond its vocabulary.
    /// </exception>
    public ArTrainer(Gpt model, TokenShardSet trainData, TrainingConfig config)
        : this(model, trainData, config, DataParallelGroup.Single)
    {
    }

    /// <summary>
    /// Prepares training of <paramref name="model"/> as one rank of <paramref name="group"/>: the rank runs its share of every
    /// step's micro-batches, and the ranks' gradients are added before each update (docs/data-parallel.md). Every rank must
    /// construct its trainer with the same model, data and config, and take the same steps.
    /// </summary>
    /// <exception cref="ArgumentException">As the one-process constructor, or the accumulation is not a multiple of the ranks.</exception>
    public ArTrainer(Gpt model, TokenShardSet trainData, TrainingConfig config, DataParallelGroup group)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(trainData);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        var gradients = model.Gradients ?? throw new ArgumentException("Training needs a model created with gradients.", nameof(model));
        int length = trainData.SequenceLength;
        if (length < 2 || length > model.Config.Length)
            throw new ArgumentException($"The data's sequences hold {length} tokens; " +
                $"next-token training needs 2 to {model.Config.Length} (the model's length).", nameof(trainData));
        TokenShardFit.Require(trainData, model.Config.Tokenizer, model.Config.Vocab, withMask: false, nameof(trainData));
        _model = model;
        _trainData = trainData;
        Config = config;
        _run = new OptimizerRun(trainData, model.Parameters.All, gradients.All, config, group, gradients.BlockRanges,
            lossRows: TokenRows.Of(config.BatchSize, length));
        model.BlockGradientsFinished = _run.BlockGradientsFinished;
        _batch = new NextTokenBatch(model.Device, config.BatchSize, length);
        _activations = model.CreateActivations(config.BatchSize, length, training: true);
        _dropoutSeed = TrainingSeeds.Dropout(config.Seed);
        _gradScale = (float)(1.0 / ((double)_batch.Predictions * config.GradientAccumulationSteps));
    }

    /// <summary>The run's settings.</summary>
    public TrainingConfig Config { get; }

    /// <summary>The model being trained (its parameters are the raw weights).</summary>
    public Gpt Model => _model;

    /// <summary>The moving average of the weights, used for validation and sampling.</summary>
    public Ema Ema => _run.Ema;

    /// <summary>Optimizer steps done.</summary>
    public long Step => _run.Step;

    /// <summary>Next-token predictions per optimizer step: B·(L−1)·accumulation.</summary>
    public long TokensPerStep => (long)_batch.Predictions * Config.GradientAccumulationSteps;

    /// <summary>Everything besides tensors needed to continue this run exactly.</summary>
    public TrainingState State => _run.State;

    /// <summary>
    /// Takes one optimizer step; returns the mean next-token loss (nats). Allocates nothing; waits for the device once, to
    /// read the step's losses and gradient norm together.
    /// </summary>
    public StepResult TrainStep()
    {
        double learningRate = _run.LearningRate;
        _model.ZeroGradients();
        for (int micro = 0; micro < _run.LocalMicroBatches; micro++)
        {
            ulong stream = _run.NextMicroBatch(_batch.Ids);
            _batch.Upload();
            var dropout = Config.Dropout ? GptDropout.Training(_dropoutSeed, stream) : GptDropout.Off;
            var logits = _model.Forward(_activations, _batch.DeviceIds, dropout);
            _batch.Queue(logits, logits, _model.Config, _gradScale, _run.LossRows(_batch.Ids.Length, _batch.Predictions));
            _model.Backward(_activations, logits);
        }
        return _run.FinishStep(learningRate);
    }

    /// <summary>
    /// Writes a checkpoint of the run (weights, EMA, Adam moments, state, configs) atomically to <paramref name="path"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The weights diverged (not finite); nothing was written.</exception>
    public void SaveCheckpoint(string path)
    {
        _run.EnsureFinite();
        GptCheckpoint.Save(path, new GptCheckpointHeader(_model.Config, Config, State), _model.Parameters,
            Ema.Weights, _run.Optimizer.FirstMoment, _run.Optimizer.SecondMoment);
    }

    /// <summary>
    /// Writes the EMA weights with the configs and state, without raw weights or Adam moments, atomically to
    /// <paramref name="path"/>: what scoring and decoding load (<see cref="GptCheckpoint.LoadModel"/>), not a resume point.
    /// </summary>
    /// <exception cref="InvalidOperationException">The weights diverged (not finite); nothing was written.</exception>
    public void SaveWeights(string path)
    {
        _run.EnsureFinite();
        CheckpointTensors.SaveWeights(path, new GptCheckpointHeader(_model.Config, Config, State).ToMetadata(), _model.Parameters,
            Ema.Weights);
    }

    /// <summary>
    /// Restores weights, EMA, Adam moments, counters and data position from a checkpoint of a compatible run; the next
    /// <see cref="TrainStep"/> continues exactly where it stopped.
    /// </summary>
    /// <exception cref="InvalidDataException">The checkpoint is damaged or was made by an incompatible run.</exception>
    public TrainingState LoadCheckpoint(string path) =>
        _run.Restore(GptCheckpoint.ReadHeader(path).State.DataPosition, () => GptCheckpoint.Load(path, _model.Config, Config,
            _model.Parameters, Ema.Weights, _run.Optimizer.FirstMoment, _run.Optimizer.SecondMoment).State);

    /// <inheritdoc/>
    public void Dispose()
    {
        _model.BlockGradientsFinished = null;
        _activations.Dispose();
        _batch.Dispose();
        _run.Dispose();
    }
}
