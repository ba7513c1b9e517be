using IlgpuDiffusion.Tests.Conformance.Reference;
using Xunit;
using static IlgpuDiffusion.Tests.Conformance.Numerics;

namespace IlgpuDiffusion.Tests.Conformance;

/// <summary>Embedding gather and scatter-add backward (repeated ids must add up), on every backend.</summary>
[Collection(ConformanceCollection.Name)]
public sealed class EmbeddingConformanceTests
{
    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Forward_gathers_rows_and_backward_adds_repeated_ids(string backend)
    {
        using var s = new DeviceScope(backend);
        foreach (var (vocab, channels, ids) in new[] { (7, 5, new[] { 3, 0, 3, 6, 3 }), (3, 1, new[] { 2 }),
            (11, 67, new[] { 10, 1, 1, 4 }) })
        {
            int rows = ids.Length;
            var table = Random(vocab * channels, 1);
            var dy = Random(rows * channels, 2);
            var prior = Random(vocab * channels, 3);
            var y = s.Zeros(rows * channels);
            var dTable = s.Upload((float[])prior.Clone());
            var idTensor = s.Upload(ids);
            s.Kernels.EmbeddingForward(idTensor, s.Upload(table), y, rows, vocab, channels);
            s.Kernels.EmbeddingBackward(idTensor, s.Upload(dy), dTable, rows, vocab, channels);
            AssertClose(ReferenceLinear.Embedding(ids, D(table), channels), DeviceScope.Download(y), 0, "embedding forward");
            AssertClose(Add(D(prior), ReferenceLinear.EmbeddingBackward(ids, D(dy), vocab, channels)), DeviceScope.Download(dTable), 1e-5,
                "embedding backward");
        }
    }

    [SkippableTheory]
    [MemberData(nameof(TestBackends.All), MemberType = typeof(TestBackends))]
    public void Ids_outside_the_vocabulary_are_rejected_before_launch(string backend)
    {
        using var s = new DeviceScope(backend);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() =>
            s.Kernels.EmbeddingForward(s.Upload(new[] { 0, 4 }), s.Zeros(8), s.Zeros(4), 2, 4, 2));
        Assert.Contains("Token id 4 at row 1", ex.Message);
    }
}
