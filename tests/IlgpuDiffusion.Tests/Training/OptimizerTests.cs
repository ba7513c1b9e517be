using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Tests.Conformance;
using IlgpuDiffusion.Training;
using Xunit;

namespace IlgpuDiffusion.Tests.Training;

[Collection(ConformanceCollection.Name)]
public sealed class OptimizerTests
{
    private static Device Cpu => TinyModels.Cpu;

    [Fact]
    public void Ema_decay_warms_up_as_min_of_d_and_one_plus_n_over_ten_plus_n()
    {
        Assert.Equal(2.0 / 11, Ema.DecayAt(0.9999, 1), 15);
        Assert.Equal(11.0 / 20, Ema.DecayAt(0.9999, 10), 15);
        Assert.Equal(9990.0 / 9999, Ema.DecayAt(0.9999, 9989), 15);
        Assert.Equal(0.9999, Ema.DecayAt(0.9999, 89_992));
        Assert.Equal(0.9, Ema.DecayAt(0.9, 100));
    }

    [Fact]
    public void Ema_starts_as_the_parameters_and_follows_the_warmed_up_decay()
    {
        using var scope = new DeviceScope("cpu");
        float[] start = [1, -2, 3], later = [5, 6, -7];
        var parameters = scope.Upload(start);
        using var ema = new Ema(parameters, 0.9999);
        Assert.Equal(start, DeviceScope.Download(ema.Weights));
        double[] expected = [.. start.Select(v => (double)v)];
        for (int n = 1; n <= 3; n++)
        {
            parameters.CopyFrom(later);
            ema.Update();
            double decay = (1.0 + n) / (10.0 + n);
            expected = [.. expected.Select((e, i) => decay * e + (1 - decay) * later[i])];
        }
        Assert.Equal(3, ema.Updates);
        Numerics.AssertClose(expected, DeviceScope.Download(ema.Weights), 1e-6, "ema");
    }

    [Fact]
    public void Gradients_above_the_clip_norm_are_scaled_to_it()
    {
        using var scope = new DeviceScope("cpu");
        var config = TrainingConfig.Mdlm with { GradientClip = 1.0 };
        // Gradient (3, 4): norm 5, clipped to (0.6, 0.8). Adam's first step moves each parameter by lr·sign(g),
        // whatever the scale, so compare the moments instead: m = (1−β1)·g_clipped.
        var parameters = scope.Upload(new float[] { 0, 0 });
        var gradients = scope.Upload(new float[] { 3, 4 });
        using var optimizer = new ClippedAdamW(parameters, gradients, config);
        double norm = optimizer.Step(learningRate: 0.1);
        Assert.Equal(5, norm, 5);
        float[] m = DeviceScope.Download(optimizer.FirstMoment);
        Assert.Equal(0.1 * 3 / (5 + 1e-6), m[0], 6);
        Assert.Equal(0.1 * 4 / (5 + 1e-6), m[1], 6);
        Assert.Equal(-0.1, DeviceScope.Download(parameters)[0], 5);
        Assert.Equal(1, optimizer.Steps);

        gradients.CopyFrom([0.3f, 0.4f]);
        Assert.Equal(0.5, optimizer.Step(learningRate: 0.1), 5);
        m = DeviceScope.Download(optimizer.FirstMoment);
        Assert.Equal(0.9 * 0.1 * 3 / (5 + 1e-6) + 0.1 * 0.3, m[0], 6);
    }

    /// <summary>An EMA queued with the step takes the update <see cref="Ema.Update"/> would, counted once.</summary>
    [Fact]
    public void An_ema_queued_with_the_step_matches_a_separate_update_and_must_follow_the_optimizers_parameters()
    {
        using var scope = new DeviceScope("cpu");
        float[] start = [1, -2, 3], gradient = [0.5f, -1, 2];
        var (fusedParameters, separateParameters) = (scope.Upload(start), scope.Upload(start));
        using var fusedEma = new Ema(fusedParameters, 0.9999);
        using var separateEma = new Ema(separateParameters, 0.9999);
        using var fused = new ClippedAdamW(fusedParameters, scope.Upload(gradient), TrainingConfig.Mdlm);
        using var separate = new ClippedAdamW(separateParameters, scope.Upload(gradient), TrainingConfig.Mdlm);
        for (int step = 0; step < 2; step++)
        {
            fused.QueueStep(1e-2, fusedEma);
            separate.QueueStep(1e-2);
            separateEma.Update();
        }
        Assert.Equal(2, fusedEma.Updates);
        Assert.Equal(DeviceScope.Download(separateParameters), DeviceScope.Download(fusedParameters));
        Assert.Equal(DeviceScope.Download(separateEma.Weights), DeviceScope.Download(fusedEma.Weights));

        var error = Assert.Throws<ArgumentException>(() => fused.QueueStep(1e-2, separateEma));
        Assert.Contains("other parameters", error.Message);
        Assert.Equal((2, 2L), (fused.Steps, separateEma.Updates)); // nothing was queued
    }

    [Fact]
    public void A_diverged_gradient_stops_training_with_a_clear_error()
    {
        using var scope = new DeviceScope("cpu");
        var parameters = scope.Upload(new float[] { 0, 0 });
        using var optimizer = new ClippedAdamW(parameters, scope.Upload(new float[] { float.NaN, 1 }), TrainingConfig.Mdlm);
        var error = Assert.Throws<InvalidOperationException>(() => optimizer.Step(1e-3));
        Assert.Contains("diverged", error.Message);
    }
}
