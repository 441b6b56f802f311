Feature: Staff safety: risk warnings for staff who visit people at home
  Anyone from any partner who will visit a person at home gets the risk warnings held about that
  home, whichever organisation recorded them: only the warning, not the record behind it.

  Scenario: Scenario 3: A district nurse gets the council's lone-working risk warning
    Given a district nurse at Northgate Community Health in the person's care team
    When they ask Northgate City Council for the risk assessment for staff safety
    Then sharing is permitted
    And the reason mentions "staff safety"
    And they must share the minimum necessary
    And the legal basis includes Health and Safety at Work etc. Act 1974
    And the deciding rule is ntg-staff-safety/lone-working-warning

  Scenario: Only staff who will visit the person get the warning
    Given a district nurse at Northgate Community Health who is not in the person's care team
    When they ask Northgate City Council for the risk assessment for staff safety
    Then sharing is not permitted
    And the deciding rule is ntg-staff-safety/not-visiting-the-person
    And it would be permitted if the relationship is care team

  Scenario: A ward-based role does not need home-visit warnings
    Given a ward nurse at Northgate Hospitals in the person's care team
    When they ask Northgate City Council for the risk assessment for staff safety
    Then sharing is not permitted
    And the deciding rule is ntg-staff-safety/not-a-home-visiting-role

  Scenario: The warning, not the clinical record behind it
    Given a social worker at Northgate City Council in the person's care team
    When they ask Northgate Mental Health for the mental health record for staff safety
    Then sharing is not permitted
    And the reason mentions "only the risk warning is shared"
    And the deciding rule is ntg-staff-safety/warning-only

  Scenario Outline: Every visiting role gets the warning (<role>)
    Given a <role> at <organisation> in the person's care team
    When they ask <holder> for the risk assessment for staff safety
    Then sharing is permitted
    And the obligations include secure transfer
    And the legal basis includes overriding public interest

    Examples:
      | role                | organisation               | holder                     |
      | home care worker    | Northgate City Council     | Northgate Mental Health    |
      | social worker       | Northgate City Council     | Riverside Medical Practice |
      | therapist           | Northgate Community Health | Northgate City Council     |
      | mental health nurse | Northgate Mental Health    | Northgate Community Health |
      | community matron    | Northgate Community Health | Castle Street Surgery      |
      | GP                  | Castle Street Surgery      | Northgate Mental Health    |
      | practice nurse      | Riverside Medical Practice | Northgate City Council     |
      | care coordinator    | Northgate City Council     | Northgate Hospitals        |
