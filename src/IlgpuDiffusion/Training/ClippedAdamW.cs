using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Training;

/// <summary>
/// One optimizer step as MDLM takes it: the global L2 norm of all gradients (<see cref="IKernels.SumOfSquares"/>
/// over the gradient arena), PyTorch's <c>clip_grad_norm_</c> factor min(1, clip/(norm + 1e-6)), then AdamW with that
/// factor as its gradient scale, computed on the device (<see cref="IKernels.ClippedAdamWStep"/>) so that a step can be
/// queued without waiting for the norm. The two moments live beside the parameters on their device. Allocates nothing
/// per step.
/// </summary>
public sealed class ClippedAdamW : IDisposable
{
    private readonly Tensor<float> _parameters, _gradients, _sumOfSquares;
    private readonly float[] _hostSumOfSquares = new float[1];
    private readonly TrainingConfig _config;
    private readonly int _count;

    /// <summary>Allocates zeroed moments for <paramref name="parameters"/>.</summary>
    /// <param name="parameters">[count] every parameter, e.g. the model's whole parameter arena</param>
    /// <param name="gradients">[count] their gradients, laid out the same way</param>
    public ClippedAdamW(Tensor<float> parameters, Tensor<float> gradients, TrainingConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (parameters.Length != gradients.Length)
            throw new ArgumentException($"Parameters ({parameters.Length}) and gradients ({gradients.Length}) must have the same length.",
                nameof(gradients));
        _parameters = parameters;
        _gradients = gradients;
        _config = config;
        _count = checked((int)parameters.Length);
        Device device = parameters.Device;
        FirstMoment = device.AllocateTensor<float>(parameters.Shape);
        SecondMoment = device.AllocateTensor<float>(parameters.Shape);
        _sumOfSquares = device.AllocateTensor<float>(new Shape(1));
    }

    /// <summary>Adam's first moment m. <c>[count]</c></summary>
    public Tensor<float> FirstMoment { get; }

    /// <summary>Adam's second moment v. <c>[count]</c></summary>
    public Tensor<float> SecondMoment { get; }

    /// <summary>Steps taken so far (the next step is number <see cref="Steps"/> + 1 for bias correction).</summary>
    public int Steps { get; private set; }

    /// <summary>
    /// Clips and applies the gradients with learning rate <paramref name="learningRate"/>; returns the norm before clipping.
    /// Waits for the device to read the norm (<see cref="QueueStep"/> does not).
    /// </summary>
    /// <exception cref="InvalidOperationException">The gradient norm is not finite (the loss diverged); nothing was updated.</exception>
    public double Step(double learningRate)
    {
        QueueStep(learningRate);
        _sumOfSquares.CopyTo(_hostSumOfSquares);
        return CheckedNorm(_hostSumOfSquares[0]);
    }

    /// <summary>
    /// Queues the step without waiting for the device: ‖g‖² into <see cref="SumOfSquares"/>, then the update with the clip
    /// factor computed on the device (<see cref="IKernels.ClippedAdamWStep"/>; none when ‖g‖² is not finite), and with
    /// <paramref name="ema"/> that average's <see cref="Ema.Update"/> in the same pass over the parameters (it must average
    /// this optimizer's parameters). Read <see cref="SumOfSquares"/> afterwards, with whatever else the step reads, and pass
    /// it to <see cref="CheckedNorm"/>.
    /// </summary>
    public void QueueStep(double learningRate, Ema? ema = null)
    {
        if (ema is not null && !ema.Averages(_parameters))
            throw new ArgumentException("The EMA averages other parameters than this optimizer updates.", nameof(ema));
        IKernels kernels = _parameters.Device.Kernels;
        kernels.SumOfSquares(_gradients, _sumOfSquares, _count);
        var hyper = new AdamWParameters((float)learningRate, (float)_config.Beta1, (float)_config.Beta2,
            (float)_config.AdamEpsilon, (float)_config.WeightDecay);
        Steps++;
        kernels.ClippedAdamWStep(_parameters, _gradients, FirstMoment, SecondMoment, _count, hyper, Steps, _sumOfSquares,
            _config.GradientClip, ema?.Weights, ema?.NextDecay() ?? 0f);
    }

    /// <summary>‖g‖² of the last queued step, before clipping. <c>[1]</c></summary>
    public Tensor<float> SumOfSquares => _sumOfSquares;

    /// <summary>The norm √<paramref name="sumOfSquares"/> of the last queued step (read from <see cref="SumOfSquares"/>).</summary>
    /// <exception cref="InvalidOperationException">It is not finite: training diverged, and the step updated nothing.</exception>
    public double CheckedNorm(float sumOfSquares)
    {
        double norm = Math.Sqrt(sumOfSquares);
        if (!double.IsFinite(norm))
            throw new InvalidOperationException($"The gradient norm is {norm} at optimizer step {Steps}: training diverged. " +
                "Resume from an earlier checkpoint with a lower learning rate or a longer warm-up.");
        return norm;
    }

    /// <summary>Sets the step counter (restoring a checkpoint; the moments are restored by copying into them).</summary>
    public void RestoreSteps(int steps)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        Steps = steps;
    }

    /// <summary>Zeroes both moments and the step counter: the next step is Adam's first again.</summary>
    public void Reset()
    {
        IKernels kernels = _parameters.Device.Kernels;
        kernels.Fill(FirstMoment, 0f, _count);
        kernels.Fill(SecondMoment, 0f, _count);
        Steps = 0;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        FirstMoment.Buffer.Dispose();
        SecondMoment.Buffer.Dispose();
        _sumOfSquares.Buffer.Dispose();
    }
}
