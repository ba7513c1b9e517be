using Xunit;

namespace IlgpuDiffusion.Tests.Distributed;

/// <summary>
/// The tests that start <c>mpirun</c> jobs: each job runs two or three processes, so they run alone, after the parallel
/// tests, instead of loading the 2-core machine under the timing-sensitive ones.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DataParallelJobs
{
    /// <summary>The collection's name.</summary>
    public const string Name = "Data-parallel jobs";
}
