using IlgpuDiffusion.Models.Safetensors;
using Xunit;

namespace IlgpuDiffusion.Tests.Distributed;

/// <summary>Compares two checkpoints tensor by tensor, and their metadata (configs and run state) exactly.</summary>
internal static class CheckpointComparison
{
    /// <summary>
    /// The largest difference between the files' tensors, relative to the largest magnitude of the tensor's group (the part of its
    /// name before the first dot: weights, EMA, each Adam moment, teacher); asserts both hold the same tensors and metadata.
    /// Groups, not single tensors, set the scale: a parameter whose gradient is zero in exact arithmetic (GPT's key bias: softmax
    /// ignores a shift of all scores) gets rounding noise that Adam turns into whole learning-rate steps of either sign.
    /// </summary>
    public static double MaxRelativeDifference(string expectedPath, string actualPath)
    {
        using SafetensorsReader expected = SafetensorsReader.Open(expectedPath), actual = SafetensorsReader.Open(actualPath);
        Assert.Equal(expected.Metadata.OrderBy(pair => pair.Key), actual.Metadata.OrderBy(pair => pair.Key));
        Assert.Equal(expected.Tensors.Select(t => t.Name), actual.Tensors.Select(t => t.Name));
        double worst = 0;
        foreach (var group in expected.Tensors.GroupBy(tensor => tensor.Name.Split('.')[0]))
        {
            var pairs = group.Select(tensor => (Expected: expected.ReadFloats(tensor.Name), Actual: actual.ReadFloats(tensor.Name)))
                .ToList();
            double scale = pairs.Max(pair => pair.Expected.Max(value => Math.Abs((double)value)));
            double difference = pairs.Max(pair => pair.Expected.Zip(pair.Actual, (x, y) => Math.Abs((double)x - y)).Max());
            if (difference > 0) worst = Math.Max(worst, difference / scale);
        }
        return worst;
    }
}
