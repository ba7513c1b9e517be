using IlgpuDiffusion.Compute;

namespace IlgpuDiffusion.Training;

/// <summary>
/// One optimizer step as MDLM takes it: the global L2 norm of all gradients (<see cref="IKernels.SumOfSquares"/>
/// over the gradient arena), PyTorch's <c>clip_grad_norm_</c> factor min(1, clip/(norm + 1e-6)), then
/// <see cref="IKernels.AdamWStep"/> with that factor as its gradient scale. The two moments live beside the
/// parameters on their device. Allocates nothing per step.
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
    /// </summary>
    /// <exception cref="InvalidOperationException">The gradient norm is not finite (the loss diverged).</exception>
    public double Step(double learningRate)
    {
        IKernels kernels = _parameters.Device.Kernels;
        kernels.SumOfSquares(_gradients, _sumOfSquares, _count);
        _sumOfSquares.CopyTo(_hostSumOfSquares);
        double norm = Math.Sqrt(_hostSumOfSquares[0]);
        if (!double.IsFinite(norm))
            throw new InvalidOperationException($"The gradient norm is {norm} at optimizer step {Steps + 1}: training diverged. " +
                "Resume from an earlier checkpoint with a lower learning rate or a longer warm-up.");
        double scale = _config.GradientClip > 0 ? Math.Min(1, _config.GradientClip / (norm + 1e-6)) : 1;
        var hyper = new AdamWParameters((float)learningRate, (float)_config.Beta1, (float)_config.Beta2,
            (float)_config.AdamEpsilon, (float)_config.WeightDecay);
        Steps++;
        kernels.AdamWStep(_parameters, _gradients, FirstMoment, SecondMoment, _count, hyper, Steps, (float)scale);
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
