Feature: Planning and commissioning use anonymised data, or identifiable data with s251 support
  The Integrated Care Board plans services; it does not need to know who people are. Anonymised
  data is outside the duty of confidence. Identifiable data needs section 251 support, and the
  national data opt-out then applies.

  Scenario: Scenario 7: The national data opt-out stops identifiable data for planning
    Given an analyst at Northgate Integrated Care Board
    And the person has registered a national data opt-out
    When they ask Northgate Hospitals for the discharge summary for service planning
    Then sharing is not permitted
    And the reason mentions "national data opt-out"
    And the deciding rule is ntg-planning/national-data-opt-out
    And it would be permitted if the information were anonymised

  Scenario: Scenario 8: Anonymised data is outside the duty of confidence
    Given an analyst at Northgate Integrated Care Board
    And the information is anonymised
    When they ask Northgate Hospitals for the discharge summary for service planning
    Then sharing is permitted
    And the legal basis includes does not apply: the information is anonymised
    And the reason mentions "not confidential"
    And the deciding rule is ntg-planning/anonymised-data

  Scenario: Identifiable data with section 251 support
    Given an analyst at Northgate Integrated Care Board
    And the use has section 251 support
    When they ask Northgate Community Health for the care plan for service planning
    Then sharing is permitted
    And the legal basis includes section 251 support
    And the legal basis includes Article 9(2)(h)
    And the deciding rule is ntg-planning/s251-supported-planning

  Scenario: Section 251 support does not override the national data opt-out
    Given an analyst at Northgate Integrated Care Board
    And the person's details are:
      | s251 support          | true |
      | national data opt-out | true |
    When they ask Riverside Medical Practice for the GP summary for service planning
    Then sharing is not permitted
    And the deciding rule is ntg-planning/national-data-opt-out
    And it would be permitted if the data were anonymised

  Scenario: Identifiable data without section 251 support is refused
    Given an analyst at Northgate Integrated Care Board
    And the information is identifiable
    When they ask Northgate Mental Health for the mental health record for service planning
    Then sharing is not permitted
    And the deciding rule is ntg-planning/identifiable-needs-s251-support
    And it would be permitted if s251 support is true

  Scenario: Anonymised data about restricted records may be used for planning
    Given an analyst at Northgate Integrated Care Board
    And the information is anonymised
    When they ask Northgate Hospitals for the fertility treatment for service planning
    Then sharing is permitted
    And the deciding rule is ntg-planning/anonymised-data

  Scenario: Section 251 support does not open a restricted record
    Given an analyst at Northgate Integrated Care Board
    And the use has section 251 support
    When they ask Riverside Medical Practice for the gender history for service planning
    Then sharing is not permitted
    And the deciding rule is restriction:gender-history

  Scenario: Planning is the commissioner's job, not a practice's
    Given a GP at Riverside Medical Practice
    And the information is anonymised
    When they ask Northgate Hospitals for the discharge summary for service planning
    Then sharing is not permitted
    And no agreement covers it
