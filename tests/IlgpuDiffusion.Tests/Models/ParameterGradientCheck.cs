using IlgpuDiffusion.Compute;
using IlgpuDiffusion.Models;
using Xunit;

namespace IlgpuDiffusion.Tests.Models;

/// <summary>
/// Whole-model gradient check over a named parameter set (DiT or GPT): for every tensor, the analytic gradient at its
/// largest entry and at random ones against central finite differences (in double, of the float forward).
/// </summary>
internal static class ParameterGradientCheck
{
    /// <summary>
    /// Checks <paramref name="gradients"/> (already filled by one backward of <paramref name="loss"/>) at
    /// <paramref name="samples"/> entries of every tensor; <paramref name="loss"/>(false) evaluates the loss only.
    /// </summary>
    /// <param name="parameters"></param>
    /// <param name="gradients"></param>
    /// <param name="loss"></param>
    /// <param name="samples"></param>
    /// <param name="seed"></param>
    /// <param name="step"></param>
    /// <param name="requireGradient">Whether every tensor must receive some gradient.</param>
    public static void CheckEveryTensor<TConfig>(NamedParameters<TConfig> parameters, NamedParameters<TConfig> gradients,
        Func<bool, double> loss, int samples, int seed, float step, bool requireGradient) where TConfig : notnull
    {
        var failures = new List<string>();
        var random = new Random(seed);
        foreach (var (name, _) in parameters.Entries)
        {
            var parameter = parameters[name];
            var analytic = gradients[name].ToArray();
            double scale = analytic.Max(v => Math.Abs((double)v));
            int largest = Array.IndexOf(analytic, analytic.MaxBy(Math.Abs));
            foreach (int index in new[] { largest }.Concat(Enumerable.Range(1, samples - 1).Select(_ => random.Next(analytic.Length))))
            {
                double numeric = FiniteDifference(parameter, index, loss, step);
                if (Math.Abs(numeric - analytic[index]) > 1e-2 * Math.Abs(analytic[index]) + 1e-3 * scale + 1e-4)
                    failures.Add($"{name}[{index}]: analytic {analytic[index]:G6}, numeric {numeric:G6} (tensor max {scale:G3})");
            }
            if (requireGradient) Assert.True(scale > 0, $"{name} got no gradient");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static double FiniteDifference(Tensor<float> parameter, int index, Func<bool, double> loss, float step)
    {
        var value = new float[1];
        parameter.Buffer.CopyToHost(parameter.Offset + index, value);
        float original = value[0];
        Span<float> probe = [original + step];
        parameter.Buffer.CopyFromHost(parameter.Offset + index, probe);
        double plus = loss(false);
        probe[0] = original - step;
        parameter.Buffer.CopyFromHost(parameter.Offset + index, probe);
        double minus = loss(false);
        probe[0] = original;
        parameter.Buffer.CopyFromHost(parameter.Offset + index, probe);
        return (plus - minus) / (2.0 * step);
    }
}
