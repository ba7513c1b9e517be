using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Data;
using IlgpuDiffusion.Diffusion;
using IlgpuDiffusion.Models;
using IlgpuDiffusion.Training;

namespace IlgpuDiffusion.Diffusion;

/// <summary>
/// MDLM training (spec §2): each optimizer step runs <see cref="TrainingConfig.GradientAccumulationSteps"/>
/// micro-batches of batch → stratified times → masking → forward with the head on masked rows → SUBS
/// cross-entropy weighted 1/t with gradient scale 1/(B·L·accumulation) → backward, then clips the global
/// gradient norm, takes an AdamW step and updates the EMA. Knows nothing of backends; allocates nothing per
/// step. <see cref="Run"/> adds logging, validation, checkpoints and progress around <see cref="TrainStep"/>.
/// </summary>
public sealed partial class MdlmTrainer : ITrainingSteps, IDisposable
{
    private readonly Dit model;
    private readonly TokenShardSet trainData;
    private readonly DitActivations activations;
    private readonly DiffusionBatch batch;
    private readonly OptimizerRun run;
    private readonly ulong timeSeed, maskSeed, dropoutSeed;
    private readonly float gradScale;

    /// <summary>Prepares training of <paramref name="model"/> (initialized or loaded) on <paramref name="trainData"/>.</summary>
    /// <exception cref="ArgumentException">The model has no gradients, or the data's sequences are longer than the model takes.</exception>
    public MdlmTrainer(Dit model, TokenShardSet trainData, TrainingConfig config)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(trainData);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        DitParameters gradients = model.Gradients
            ?? throw new ArgumentException("Training needs a model created with gradients.", nameof(model));
        this.model = model;
        this.trainData = trainData;
        Config = config;
        int length = trainData.SequenceLength;
        run = new OptimizerRun(trainData, model.Parameters.All, gradients.All, config);
        batch = new DiffusionBatch(model.Config, model.Device, config.BatchSize, length, TimeSampler.Mdlm);
        activations = model.CreateActivations(config.BatchSize, length, training: true);
        timeSeed = TrainingSeeds.Times(config.Seed);
        maskSeed = TrainingSeeds.Masks(config.Seed);
        dropoutSeed = TrainingSeeds.Dropout(config.Seed);
        gradScale = (float)(1.0 / ((double)config.BatchSize * length * config.GradientAccumulationSteps));
    }

    /// <summary>The run's settings.</summary>
    public TrainingConfig Config { get; }

    /// <summary>The model being trained (its parameters are the raw weights).</summary>
    public Dit Model => model;

    /// <summary>The moving average of the weights, used for validation and sampling.</summary>
    public Ema Ema => run.Ema;

    /// <summary>Optimizer steps done.</summary>
    public long Step => run.Step;

    /// <summary>Token slots per optimizer step: B·L·accumulation.</summary>
    public long TokensPerStep => (long)Config.SequencesPerStep * trainData.SequenceLength;

    /// <summary>Everything besides tensors needed to continue this run exactly.</summary>
    public TrainingState State => run.State;

    /// <summary>Takes one optimizer step; allocates nothing.</summary>
    public StepResult TrainStep()
    {
        double learningRate = run.LearningRate;
        model.ZeroGradients();
        double loss = 0;
        for (int micro = 0; micro < Config.GradientAccumulationSteps; micro++)
        {
            ulong stream = run.NextMicroBatch(batch.CleanIds);
            batch.Corrupt(timeSeed, maskSeed, stream);
            DitDropout dropout = Config.Dropout ? DitDropout.Training(dropoutSeed, stream) : DitDropout.Off;
            Tensor<float> logits = batch.Forward(model, activations, dropout);
            loss += batch.Loss.Evaluate(logits, logits, gradScale);
            model.Backward(activations, logits);
        }
        return run.FinishStep(loss, learningRate);
    }

    /// <summary>Writes a checkpoint of the run (weights, EMA, Adam moments, state, configs) atomically to <paramref name="path"/>.</summary>
    public void SaveCheckpoint(string path) =>
        MdlmCheckpoint.Save(path, new MdlmCheckpointHeader(model.Config, Config, State), model.Parameters,
            Ema.Weights, run.Optimizer.FirstMoment, run.Optimizer.SecondMoment);

    /// <summary>
    /// Restores weights, EMA, Adam moments, counters and data position from a checkpoint of a compatible run
    /// (see <see cref="MdlmCheckpoint.Load"/>); the next <see cref="TrainStep"/> continues exactly where it stopped.
    /// </summary>
    /// <exception cref="InvalidDataException">The checkpoint is damaged or was made by an incompatible run.</exception>
    public TrainingState LoadCheckpoint(string path) =>
        run.Restore(MdlmCheckpoint.ReadHeader(path).State.DataPosition, () => MdlmCheckpoint.Load(path, model.Config, Config,
            model.Parameters, Ema.Weights, run.Optimizer.FirstMoment, run.Optimizer.SecondMoment).State);

    /// <inheritdoc/>
    public void Dispose()
    {
        activations.Dispose();
        batch.Dispose();
        run.Dispose();
    }
}
