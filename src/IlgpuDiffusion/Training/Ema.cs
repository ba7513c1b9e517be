using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Training;

/// <summary>
/// Exponential moving average of the parameters, updated after every optimizer step as MDLM's
/// <c>ExponentialMovingAverage</c>: the n-th update (n from 1) uses decay min(d, (1+n)/(10+n)), so early
/// weights are forgotten fast. The average starts as a copy of the parameters and lives on their device.
/// </summary>
public sealed class Ema : IDisposable
{
    private readonly Tensor<float> _parameters;
    private readonly int _count;

    /// <summary>Allocates the average beside <paramref name="parameters"/> and copies them into it.</summary>
    /// <param name="parameters">[count] every parameter of the model, e.g. its whole arena</param>
    /// <param name="decay">d, the decay once warmed up (0.9999 for MDLM)</param>
    public Ema(Tensor<float> parameters, double decay)
    {
        if (!(decay >= 0 && decay < 1)) throw new ArgumentOutOfRangeException(nameof(decay), $"EMA decay must be in [0, 1); got {decay}.");
        _parameters = parameters;
        _count = checked((int)parameters.Length);
        Decay = decay;
        Weights = parameters.Device.AllocateTensor<float>(parameters.Shape);
        parameters.Device.Kernels.Copy(parameters, Weights, _count);
    }

    /// <summary>d: the decay once warmed up.</summary>
    public double Decay { get; }

    /// <summary>The averaged parameters, laid out as the parameters. <c>[count]</c></summary>
    public Tensor<float> Weights { get; }

    /// <summary>Updates made so far (n).</summary>
    public long Updates { get; private set; }

    /// <summary>The decay of update number <paramref name="update"/> (from 1): min(d, (1+n)/(10+n)).</summary>
    public static double DecayAt(double decay, long update) => Math.Min(decay, (1.0 + update) / (10.0 + update));

    /// <summary>ema ← δ·ema + (1−δ)·parameters with δ = <see cref="DecayAt"/>(d, n+1); then n ← n+1.</summary>
    public void Update() => _parameters.Device.Kernels.EmaUpdate(_parameters, Weights, _count, NextDecay());

    /// <summary>Counts an update and returns its δ, for a kernel that updates <see cref="Weights"/> as <see cref="Update"/> does.</summary>
    internal float NextDecay()
    {
        Updates++;
        return (float)DecayAt(Decay, Updates);
    }

    /// <summary>Whether this average follows <paramref name="parameters"/> (the same tensor).</summary>
    internal bool Averages(Tensor<float> parameters) =>
        ReferenceEquals(parameters.Buffer, _parameters.Buffer) && parameters.Offset == _parameters.Offset
        && parameters.Length == _parameters.Length;

    /// <summary>Sets the update counter (restoring a checkpoint; the weights are restored by copying into <see cref="Weights"/>).</summary>
    public void RestoreUpdates(long updates)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(updates);
        Updates = updates;
    }

    /// <summary>Restarts the average from the current parameters with its warm-up (n ← 0).</summary>
    public void Reset()
    {
        _parameters.Device.Kernels.Copy(_parameters, Weights, _count);
        Updates = 0;
    }

    /// <inheritdoc/>
    public void Dispose() => Weights.Buffer.Dispose();
}
