using System.Text.RegularExpressions;
using Xunit;

namespace IlgpuDiffusion.Tests.Repository;

/// <summary>
/// The readme packed into each NuGet package (<c>src/*/README.md</c>, see src/Directory.Build.props) is shown on the
/// package's page, away from the repository: every link in it must be absolute (or an anchor in the same page), since a
/// repository-relative one points nowhere there.
/// </summary>
public sealed partial class PackageReadmeTests
{
    [SkippableFact]
    public void Packed_readmes_link_only_to_absolute_addresses()
    {
        string root = SourceRulesTests.RepositoryRoot();
        string[] readmes = Directory.GetDirectories(Path.Combine(root, "src"))
            .Where(project => Directory.EnumerateFiles(project, "*.csproj").Any())
            .Select(project => Path.Combine(project, "README.md")).Order(StringComparer.Ordinal).ToArray();
        Assert.NotEmpty(readmes);
        var offenders = new List<string>();
        foreach (string readme in readmes)
        {
            Assert.True(File.Exists(readme), $"{Path.GetRelativePath(root, readme)} is missing; every package packs its readme.");
            int number = 0;
            foreach (string line in File.ReadLines(readme))
            {
                number++;
                offenders.AddRange(LinkTargets(line).Where(target => !Absolute().IsMatch(target) && !target.StartsWith('#'))
                    .Select(target => $"{Path.GetRelativePath(root, readme)}:{number}: {target}"));
            }
        }
        Assert.True(offenders.Count == 0, $"Relative links in packed readmes:\n{string.Join("\n", offenders)}");
    }

    [Fact]
    public void Inline_reference_and_html_links_are_all_found()
    {
        Assert.Equal(["a.md", "https://x.org/b", "img.png", "c/d.md", "e.svg"],
            LinkTargets("[a](a.md) [b](https://x.org/b \"t\") ![i](img.png) <a href=\"c/d.md\">c</a> <img src=\"e.svg\">"));
        Assert.Equal(["../f.md"], LinkTargets("[ref]: ../f.md"));
    }

    private static List<string> LinkTargets(string line) =>
    [
        .. Inline().Matches(line).Select(m => m.Groups["target"].Value),
        .. Html().Matches(line).Select(m => m.Groups["target"].Value),
        .. Reference().Matches(line).Select(m => m.Groups["target"].Value),
    ];

    [GeneratedRegex("""\]\((?<target>[^)\s]+)(\s+"[^"]*")?\)""")]
    private static partial Regex Inline();

    [GeneratedRegex(@"<(a|img)\s[^>]*(href|src)=""(?<target>[^""]+)""")]
    private static partial Regex Html();

    [GeneratedRegex("""^\s*\[[^\]]+\]:\s*(?<target>\S+)""")]
    private static partial Regex Reference();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9+.-]*:")]
    private static partial Regex Absolute();
}
