using IlgpuDiffusion.Models.Safetensors;
using Xunit;

namespace IlgpuDiffusion.Tests.Distributed;

/// <summary>Compares two checkpoints tensor by tensor, and their metadata (configs and run state) exactly.</summary>
internal static class CheckpointComparison
{
    /// <summary>
    /// The largest difference between the files' tensors, each relative to its tensor's largest magnitude; asserts both hold
    /// the same tensors and the same metadata.
    /// </summary>
    public static double MaxRelativeDifference(string expectedPath, string actualPath)
    {
        using SafetensorsReader expected = SafetensorsReader.Open(expectedPath), actual = SafetensorsReader.Open(actualPath);
        Assert.Equal(expected.Metadata.OrderBy(pair => pair.Key), actual.Metadata.OrderBy(pair => pair.Key));
        Assert.Equal(expected.Tensors.Select(t => t.Name), actual.Tensors.Select(t => t.Name));
        double worst = 0;
        foreach (var tensor in expected.Tensors)
        {
            float[] a = expected.ReadFloats(tensor.Name), b = actual.ReadFloats(tensor.Name);
            double scale = a.Max(value => Math.Abs((double)value));
            double difference = a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
            if (difference > 0) worst = Math.Max(worst, difference / scale);
        }
        return worst;
    }
}
