Feature: Research with explicit consent or section 251 support, respecting the opt-out
  Northgate University researchers get identifiable data only with the person's explicit
  consent, or with section 251 support where consent is impracticable; the national data
  opt-out and any refusal are respected.

  Scenario: Scenario 9: Research without consent or section 251 support is refused
    Given a researcher at Northgate University
    When they ask Northgate Hospitals for the test results for research
    Then sharing is not permitted
    And it would be permitted if the consent is explicit
    And it would be permitted if s251 support is true
    And the deciding rule is ntg-research/no-consent-or-s251-support

  Scenario: Scenario 10: Research with the person's explicit consent
    Given a researcher at Northgate University
    And the person has given explicit consent
    When they ask Northgate Hospitals for the test results for research
    Then sharing is permitted
    And the legal basis includes Article 9(2)(j)
    And the legal basis includes explicit consent
    And the deciding rule is ntg-research/explicit-consent

  Scenario: Research with section 251 support
    Given a researcher at Northgate University
    And the study has section 251 support
    When they ask Castle Street Surgery for the GP summary for research
    Then sharing is permitted
    And the legal basis includes section 251 support
    And the legal basis includes Schedule 1 Part 1 paragraph 4
    And the deciding rule is ntg-research/s251-supported-research

  Scenario: The national data opt-out stops section 251 research
    Given a researcher at Northgate University
    And the study has section 251 support
    And the person has registered a national data opt-out
    When they ask Castle Street Surgery for the GP summary for research
    Then sharing is not permitted
    And the deciding rule is ntg-research/national-data-opt-out
    And it would be permitted if the consent is explicit

  Scenario: Explicit consent to a study is not stopped by the opt-out
    Given a researcher at Northgate University
    And the person has given explicit consent
    And the person has registered a national data opt-out
    When they ask Northgate Mental Health for the mental health record for research
    Then sharing is permitted
    And the deciding rule is ntg-research/explicit-consent

  Scenario: A refusal is respected whatever approval the study holds
    Given a researcher at Northgate University
    And the person has refused consent
    And the study has section 251 support
    When they ask Northgate Hospitals for the discharge summary for research
    Then sharing is not permitted
    And the deciding rule is ntg-research/person-refused
    And rule ntg-research/s251-supported-research is overridden
    And nothing would make it permitted

  Scenario: Anonymised data for research
    Given a researcher at Northgate University
    And the data is anonymised
    When they ask Northgate City Council for the social care assessment for research
    Then sharing is permitted
    And the deciding rule is ntg-research/anonymised-data

  Scenario: Consent to research does not open fertility treatment records
    Given a researcher at Northgate University
    And the person has given explicit consent
    When they ask Northgate Hospitals for the fertility treatment for research
    Then sharing is not permitted
    And the legal basis includes Human Fertilisation and Embryology Act 1990 section 33A
    And the deciding rule is restriction:fertility-treatment
