using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Distributed;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// MDLM training (docs/algorithms.md §2): each optimizer step runs <see cref="TrainingConfig.GradientAccumulationSteps"/>
/// micro-batches of batch → stratified times → masking → forward with the head on masked rows → SUBS
/// cross-entropy weighted 1/t with gradient scale 1/(B·L·accumulation) → backward, then clips the global
/// gradient norm, takes an AdamW step and updates the EMA. Knows nothing of backends; allocates nothing per
/// step. <see cref="Run"/> adds logging, validation, checkpoints and progress around <see cref="TrainStep"/>.
/// </summary>
public sealed partial class MdlmTrainer : ITrainingSteps, IDisposable
{
    private readonly Dit _model;
    private readonly TokenShardSet _trainData;
    private readonly DitActivations _activations;
    private readonly DiffusionBatch _batch;
    private readonly MaskedAttentionEntropy _attentionEntropy;
    private readonly OptimizerRun _run;
    private readonly ulong _timeSeed, _maskSeed, _dropoutSeed;
    private readonly float _gradScale;

    /// <summary>Prepares training of <paramref name="model"/> (initialized or loaded) on <paramref name="trainData"/>.</summary>
    /// <exception cref="ArgumentException">
    /// The model has no gradients, or the data does not fit it: sequences longer than the model takes, another tokenizer, or ids
    /// beyond its vocabulary.
    /// </exception>
    public MdlmTrainer(Dit model, TokenShardSet trainData, TrainingConfig config)
        : this(model, trainData, config, DataParallelGroup.Single)
    {
    }

    /// <summary>
    /// Prepares training of <paramref name="model"/> as one rank of <paramref name="group"/>: the rank runs its share of every
    /// step's micro-batches, and the ranks' gradients are added before each update (docs/data-parallel.md). Every rank must
    /// construct its trainer with the same model, data and config, and take the same steps.
    /// </summary>
    /// <exception cref="ArgumentException">As the one-process constructor, or the accumulation is not a multiple of the ranks.</exception>
    public MdlmTrainer(Dit model, TokenShardSet trainData, TrainingConfig config, DataParallelGroup group)
        : this(model, trainData, config, group, headRowMultiple: null)
    {
    }

    /// <summary>
    /// As the public constructors, with the head's rows padded to a multiple of <paramref name="headRowMultiple"/>, or of the
    /// device's <see cref="Device.HeadRowMultiple"/> where it is null (<see cref="CorruptedBatch.PadHeadRows"/>).
    /// </summary>
    internal MdlmTrainer(Dit model, TokenShardSet trainData, TrainingConfig config, DataParallelGroup group, int? headRowMultiple)
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(trainData);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        DitParameters gradients = model.Gradients
            ?? throw new ArgumentException("Training needs a model created with gradients.", nameof(model));
        TokenShardFit.Require(trainData, model.Config.Tokenizer, model.Config.Vocab, withMask: true, nameof(trainData));
        _model = model;
        _trainData = trainData;
        Config = config;
        int length = trainData.SequenceLength;
        _run = new OptimizerRun(trainData, model.Parameters.All, gradients.All, config, group, gradients.BlockRanges,
            lossRows: TokenRows.Of(config.BatchSize, length));
        model.BlockGradientsFinished = _run.BlockGradientsFinished;
        _batch = new DiffusionBatch(model.Config, model.Device, config.BatchSize, length, TimeSampler.Mdlm,
            headRowMultiple ?? model.Device.HeadRowMultiple);
        _activations = model.CreateActivations(config.BatchSize, length, training: true);
        _attentionEntropy = new MaskedAttentionEntropy(model.Config, config.BatchSize, length);
        _timeSeed = TrainingSeeds.Times(config.Seed);
        _maskSeed = TrainingSeeds.Masks(config.Seed);
        _dropoutSeed = TrainingSeeds.Dropout(config.Seed);
        _gradScale = (float)(1.0 / ((double)config.BatchSize * length * config.GradientAccumulationSteps));
    }

    /// <summary>The run's settings.</summary>
    public TrainingConfig Config { get; }

    /// <summary>The model being trained (its parameters are the raw weights).</summary>
    public Dit Model => _model;

    /// <summary>The moving average of the weights, used for validation and sampling.</summary>
    public Ema Ema => _run.Ema;

    /// <summary>Optimizer steps done.</summary>
    public long Step => _run.Step;

    /// <summary>Token slots per optimizer step: B·L·accumulation.</summary>
    public long TokensPerStep => (long)Config.SequencesPerStep * _trainData.SequenceLength;

    /// <summary>Everything besides tensors needed to continue this run exactly.</summary>
    public TrainingState State => _run.State;

    /// <summary>
    /// Takes one optimizer step; allocates nothing. On an ILGPU device the host waits for the device once, at the end, to
    /// read the step's losses and gradient norm together.
    /// </summary>
    public StepResult TrainStep()
    {
        double learningRate = _run.LearningRate;
        _model.ZeroGradients();
        for (int micro = 0; micro < _run.LocalMicroBatches; micro++)
        {
            ulong stream = _run.NextMicroBatch(_batch.CleanIds);
            _batch.Corrupt(_timeSeed, _maskSeed, stream);
            DitDropout dropout = Config.Dropout ? DitDropout.Training(_dropoutSeed, stream) : DitDropout.Off;
            Tensor<float> logits = _batch.Forward(_model, _activations, dropout);
            _batch.Loss.Queue(logits, logits, _gradScale, _run.LossRows(_batch.Loss.Rows, _batch.Loss.TokenSlots));
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
        MdlmCheckpoint.Save(path, new MdlmCheckpointHeader(_model.Config, Config, State), _model.Parameters,
            Ema.Weights, _run.Optimizer.FirstMoment, _run.Optimizer.SecondMoment);
    }

    /// <summary>
    /// Writes the EMA weights with the configs and state, without raw weights or Adam moments, atomically to
    /// <paramref name="path"/>: what sampling and evaluation load (<see cref="MdlmCheckpoint.LoadModel"/>), not a resume point.
    /// </summary>
    /// <exception cref="InvalidOperationException">The weights diverged (not finite); nothing was written.</exception>
    public void SaveWeights(string path)
    {
        _run.EnsureFinite();
        MdlmCheckpoint.SaveWeights(path, new MdlmCheckpointHeader(_model.Config, Config, State), _model.Parameters, Ema.Weights);
    }

    /// <summary>
    /// Restores weights, EMA, Adam moments, counters and data position from a checkpoint of a compatible run
    /// (see <see cref="MdlmCheckpoint.Load"/>); the next <see cref="TrainStep"/> continues exactly where it stopped.
    /// </summary>
    /// <exception cref="InvalidDataException">The checkpoint is damaged or was made by an incompatible run.</exception>
    public TrainingState LoadCheckpoint(string path) =>
        _run.Restore(MdlmCheckpoint.ReadHeader(path).State.DataPosition, () => MdlmCheckpoint.Load(path, _model.Config, Config,
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
