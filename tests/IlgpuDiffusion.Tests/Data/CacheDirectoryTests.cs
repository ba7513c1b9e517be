using IlgpuDiffusion.Data;
using Xunit;

namespace IlgpuDiffusion.Tests.Data;

public sealed class CacheDirectoryTests
{
    [Fact]
    public void The_environment_variable_overrides_the_default_cache_folder()
    {
        string? before = Environment.GetEnvironmentVariable(CacheDirectory.EnvironmentVariable);
        try
        {
            Environment.SetEnvironmentVariable(CacheDirectory.EnvironmentVariable, null);
            string standard = CacheDirectory.Default;
            Assert.True(Path.IsPathFullyQualified(standard));
            Assert.Contains("ilgpudiffusion", standard, StringComparison.OrdinalIgnoreCase);
            string custom = Path.Combine(Path.GetTempPath(), "custom-cache");
            Environment.SetEnvironmentVariable(CacheDirectory.EnvironmentVariable, custom);
            Assert.Equal(custom, CacheDirectory.Default);
        }
        finally
        {
            Environment.SetEnvironmentVariable(CacheDirectory.EnvironmentVariable, before);
        }
    }
}
