using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>Fill and Copy touch exactly the elements asked for.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class UtilityConformanceTests
{
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Fill_and_copy_write_only_the_first_count_elements(string backend)
    {
        using var s = new DeviceScope(backend);
        var source = Random(41, 1);
        var x = s.Upload(Random(41, 2));
        s.Kernels.Fill(x, 2.5f, 40);
        var filled = DeviceScope.Download(x);
        Assert.All(filled[..40], v => Assert.Equal(2.5f, v));
        Assert.Equal(Random(41, 2)[40], filled[40]);
        s.Kernels.Copy(s.Upload(source), x, 39);
        var copied = DeviceScope.Download(x);
        Assert.Equal(source[..39], copied[..39]);
        Assert.Equal([2.5f, Random(41, 2)[40]], copied[39..]);
    }
}
