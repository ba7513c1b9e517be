namespace IlgpuDiffusion.Data;

/// <summary>
/// Where a <see cref="Batcher"/> stands: the epoch and the number of sequences of that epoch's
/// shuffled order already handed out. A checkpoint stores it (it serializes with
/// System.Text.Json as <c>{"Epoch":..,"Index":..}</c>) and a batcher created from it with the same
/// data and seed continues with exactly the batches the original would have produced.
/// </summary>
/// <param name="Epoch">Passes over the data completed (0 for the first).</param>
/// <param name="Index">Sequences of the current epoch's order already used.</param>
public readonly record struct BatcherPosition(long Epoch, long Index)
{
    /// <summary>The start of the first epoch.</summary>
    public static BatcherPosition Start => default;
}
