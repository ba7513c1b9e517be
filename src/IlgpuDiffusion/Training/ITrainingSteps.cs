namespace IlgpuDiffusion.Training;

/// <summary>The optimizer-step side of a trainer that <see cref="TrainingLoop"/> drives (MDLM and autoregressive).</summary>
internal interface ITrainingSteps
{
    /// <summary>The run's settings.</summary>
    TrainingConfig Config { get; }

    /// <summary>Optimizer steps done.</summary>
    long Step { get; }

    /// <summary>Tokens (or predictions) per optimizer step, for throughput.</summary>
    long TokensPerStep { get; }

    /// <summary>Takes one optimizer step.</summary>
    StepResult TrainStep();

    /// <summary>Writes a checkpoint of the run atomically to <paramref name="path"/>.</summary>
    void SaveCheckpoint(string path);
}
