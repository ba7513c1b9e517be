namespace IlgpuDiffusion.Serving;

/// <summary>What a <see cref="TextGenerationEngine"/> has run so far.</summary>
/// <param name="Requests">Requests that ran in a batch.</param>
/// <param name="Sequences">Sequences (samples) those batches held.</param>
/// <param name="Batches">Batches run.</param>
/// <param name="ModelPasses">Model forward passes of those batches.</param>
public sealed record TextEngineStatistics(long Requests, long Sequences, long Batches, long ModelPasses);
