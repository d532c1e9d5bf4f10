namespace Canopy.BreakingChanges.Tests;

public sealed class SpecComparerTests
{
    public static TheoryData<string, bool> Rules => new()
    {
        { "removed-path", true },
        { "removed-operation", true },
        { "changed-method", true },
        { "removed-or-renamed-property", true },
        { "type-or-format-changed", true },
        { "narrowed-request-enum", true },
        { "new-required-parameter", true },
        { "new-required-property", true },
        { "removed-status-code", true },
        { "added-security-requirement", true },
        { "new-response-enum-value", false },
    };

    [Theory]
    [MemberData(nameof(Rules))]
    public void Given_a_fixture_pair_for_a_rule_Then_that_change_and_no_other_is_reported_with_its_severity(string rule, bool breaking)
    {
        var changes = Compare(rule);

        // A schema shared by two operations reports the change once for each.
        Assert.NotEmpty(changes);
        Assert.All(changes, change =>
        {
            Assert.Equal(rule, change.ChangeType);
            Assert.Equal(breaking, change.Breaking);
            Assert.False(string.IsNullOrWhiteSpace(change.MigrationAction));
        });
    }

    [Fact]
    public void Given_only_additions_and_a_new_version_path_Then_nothing_is_reported()
    {
        Assert.Empty(Compare("compatible"));
    }

    [Fact]
    public void Given_the_same_spec_twice_Then_nothing_is_reported()
    {
        var spec = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "compatible", "published.yaml"));

        Assert.Empty(SpecComparer.Compare(SpecReader.Read(spec, "a"), SpecReader.Read(spec, "b")));
    }

    [Fact]
    public void Given_a_removed_operation_Then_its_callers_in_the_repository_are_found_by_operation_id_client_method_or_path()
    {
        var repo = Directory.CreateTempSubdirectory("canopy-callers-");
        try
        {
            Directory.CreateDirectory(Path.Combine(repo.FullName, "tests"));
            Directory.CreateDirectory(Path.Combine(repo.FullName, "generated"));
            File.WriteAllText(Path.Combine(repo.FullName, "tests", "hooks.js"), "'POST /api/v1/devices 201': {}");
            File.WriteAllText(Path.Combine(repo.FullName, "tests", "Consumer.cs"), "await client.RegisterDeviceAsync(body);");
            File.WriteAllText(Path.Combine(repo.FullName, "tests", "Other.cs"), "await client.ListFarmsAsync();");
            File.WriteAllText(Path.Combine(repo.FullName, "generated", "Client.g.cs"), "RegisterDeviceAsync");

            var change = Assert.Single(Compare("removed-operation"));

            Assert.Equal(["tests/Consumer.cs", "tests/hooks.js"], Callers.Find(repo.FullName, change));
        }
        finally
        {
            repo.Delete(recursive: true);
        }
    }

    private static List<Change> Compare(string rule)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "Fixtures", rule);
        return SpecComparer.Compare(
            SpecReader.Read(File.ReadAllText(Path.Combine(folder, "published.yaml")), "published"),
            SpecReader.Read(File.ReadAllText(Path.Combine(folder, "current.yaml")), "current"));
    }
}
